package xplane

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// xStatUint is an XStat with a uint64 value, as real profilers write the
// session's times.
func xStatUint(meta int64, v uint64) []byte { return concat(fInt(1, meta), fVarint(3, v)) }

// taskEnv is a Task Environment plane with the given stats, as real JAX
// writes it: stat metadata on the plane, values on its stats.
func taskEnv(stats ...[]byte) []byte {
	b := concat(fInt(1, 0), fString(2, TaskEnvPlane))
	b = append(b, xStatMeta(1, StartTimeStat)...)
	b = append(b, xStatMeta(2, StopTimeStat)...)
	for _, s := range stats {
		b = append(b, fBytes(6, s)...)
	}
	return fBytes(1, b)
}

func TestWalkSession(t *testing.T) {
	const base = 1_770_000_000_000_000_000
	ops := xPlane(0, "/device:TPU:0", [][]byte{xLine(3, "XLA Ops", base, xEvent(1, 5_000, 1_000))}, xEventMeta(1, "fusion"))
	tests := []struct {
		name      string
		space     []byte
		want      []capture.Interval
		wantStart int64
		wantOK    bool
	}{
		{
			name:  "uint64 stats",
			space: concat(ops, taskEnv(xStatUint(1, base-2_000), xStatUint(2, base+7_000_000))),
			want:  []capture.Interval{{Start: -2_000_000, End: 7_000_000_000}}, wantStart: base - 2_000, wantOK: true,
		},
		{
			name:  "int64 stats, plane first",
			space: concat(taskEnv(xStatInt(1, base), xStatInt(2, base+1)), ops),
			want:  []capture.Interval{{Start: 0, End: 1_000}}, wantStart: base, wantOK: true,
		},
		{name: "no task environment", space: ops},
		{name: "no stop", space: concat(ops, taskEnv(xStatUint(1, base)))},
		{name: "stop before start", space: concat(ops, taskEnv(xStatUint(1, base), xStatUint(2, base-1)))},
		{name: "string stats", space: concat(ops, taskEnv(xStatStr(1, "1"), xStatStr(2, "2")))},
		{
			// The events were rebased (real xprof test files): the session is
			// recorded but lies too far away to be relative picoseconds.
			name:      "rebased events",
			space:     concat(xPlane(0, "/device:TPU:0", [][]byte{xLine(3, "XLA Ops", 711_141, xEvent(1, 0, 1))}, xEventMeta(1, "f")), taskEnv(xStatUint(1, base), xStatUint(2, base+1))),
			wantStart: base, wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Open(bytes.NewReader(tt.space), int64(len(tt.space)))
			if err != nil {
				t.Fatal(err)
			}
			start, _, ok := f.SessionNS()
			if ok != tt.wantOK || start != tt.wantStart {
				t.Errorf("SessionNS() = %d, _, %v, want %d, _, %v", start, ok, tt.wantStart, tt.wantOK)
			}
			r := &capturetest.SessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.Sessions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Session calls (-want +got):\n%s", diff)
			}
			// A plain Visitor is walked as before.
			if err := f.Walk(context.Background(), &capturetest.Recorder{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSessionFixtures checks the session of the shared XPlanes: the real
// JAX files record one that misses their rebased events (span_from
// "events" in their truth), the generated ones none.
func TestSessionFixtures(t *testing.T) {
	td := fixtures.Dir(t)
	tests := []struct {
		path        string
		recorded    bool
		startNS     int64
		walkSession bool
	}{
		{"real/jax-rocm-gemm/tw003.xplane.pb", true, 1771595650217823548, false},
		{"real/xprof-tpu-inference/tpu_inference_2.xplane.pb", true, 1741722099081044120, false},
		{"real/xprof-gpu-multi-worker/34.83.195.179_6003.xplane.pb", false, 0, false},
		{"tiny/tiny-host.xplane.pb", false, 0, false},
	}
	for _, tt := range tests {
		t.Run(filepath.Dir(tt.path), func(t *testing.T) {
			f := openFile(t, filepath.Join(td, tt.path))
			start, _, ok := f.SessionNS()
			if ok != tt.recorded || start != tt.startNS {
				t.Errorf("SessionNS() = %d, _, %v, want %d, _, %v", start, ok, tt.startNS, tt.recorded)
			}
			r := &capturetest.SessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := len(r.Sessions) > 0; got != tt.walkSession {
				t.Errorf("Walk called Session: %v (%v), want %v", got, r.Sessions, tt.walkSession)
			}
		})
	}
}
