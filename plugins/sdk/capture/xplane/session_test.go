package xplane

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// sessionRecorder is a recorder that also takes the session.
type sessionRecorder struct {
	recorder
	sessions []capture.Interval
}

func (r *sessionRecorder) Session(start, end int64) {
	r.sessions = append(r.sessions, capture.Interval{Start: start, End: end})
}

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
			r := &sessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.sessions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Session calls (-want +got):\n%s", diff)
			}
			// A plain Visitor is walked as before.
			if err := f.Walk(context.Background(), &recorder{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSessionFixtures checks the session of the shared XPlanes: the real
// JAX files record one that misses their rebased events (span_from
// "events" in their truth), the generated ones none.
func TestSessionFixtures(t *testing.T) {
	td := testdataDir(t)
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
			r := &sessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := len(r.sessions) > 0; got != tt.walkSession {
				t.Errorf("Walk called Session: %v (%v), want %v", got, r.sessions, tt.walkSession)
			}
		})
	}
}

func TestWriteSession(t *testing.T) {
	const base = 1_770_000_000_000_000_000
	device := func() *capture.Plane {
		return &capture.Plane{ID: 0, Name: "/device:TPU:0", Lines: []*capture.Line{
			{ID: 3, DisplayID: 3, Name: "XLA Ops", Events: []capture.Event{{Name: "f", Start: 5_000, Dur: 1_000}}},
		}}
	}
	sessionStat := func(name string, v uint64) capture.Stat {
		return capture.Stat{Name: name, Kind: capture.StatUint, Uint: v}
	}
	tests := []struct {
		name      string
		c         *capture.Capture
		wantStats [][]capture.Stat // stats of each Task Environment plane written
		wantSess  []capture.Interval
	}{
		{
			name: "new plane",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: -3_000, End: 9_000_000},
				Planes: []*capture.Plane{device()}},
			wantStats: [][]capture.Stat{{sessionStat(StartTimeStat, base-3), sessionStat(StopTimeStat, base+9_000)}},
			wantSess:  []capture.Interval{{Start: -3_000, End: 9_000_000}},
		},
		{
			name: "plane without the stats",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: 0, End: 9_000_000},
				Planes: []*capture.Plane{device(), {Name: TaskEnvPlane, Stats: []capture.Stat{{Name: "host", Kind: capture.StatString, Str: "h"}}}}},
			wantStats: [][]capture.Stat{{{Name: "host", Kind: capture.StatString, Str: "h"}, sessionStat(StartTimeStat, base), sessionStat(StopTimeStat, base+9_000)}},
			wantSess:  []capture.Interval{{Start: 0, End: 9_000_000}},
		},
		{
			name: "plane with the stats keeps them",
			c: &capture.Capture{BaseNS: base, Session: capture.Interval{Start: 0, End: 9_000_000},
				Planes: []*capture.Plane{device(), {Name: TaskEnvPlane, Stats: []capture.Stat{sessionStat(StartTimeStat, base+1), sessionStat(StopTimeStat, base+2)}}}},
			wantStats: [][]capture.Stat{{sessionStat(StartTimeStat, base+1), sessionStat(StopTimeStat, base+2)}},
			wantSess:  []capture.Interval{{Start: 1_000, End: 2_000}},
		},
		{
			name: "no session",
			c:    &capture.Capture{BaseNS: base, Planes: []*capture.Plane{device()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.c.Planes[len(tt.c.Planes)-1].Stats
			b := writeBytes(t, tt.c)
			if diff := cmp.Diff(before, tt.c.Planes[len(tt.c.Planes)-1].Stats); diff != "" {
				t.Errorf("Write changed the capture (-before +after):\n%s", diff)
			}
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			var got [][]capture.Stat
			for _, p := range f.Planes() {
				if p.Name == TaskEnvPlane {
					got = append(got, p.Stats)
				}
			}
			if diff := cmp.Diff(tt.wantStats, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Task Environment stats (-want +got):\n%s", diff)
			}
			// Read back, the session is the capture's (relative to the
			// same absolute time).
			r := &sessionRecorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			var sess []capture.Interval
			for _, s := range r.sessions {
				shift := (r.base - tt.c.BaseNS) * capture.Nanosecond
				sess = append(sess, capture.Interval{Start: s.Start + shift, End: s.End + shift})
			}
			if diff := cmp.Diff(tt.wantSess, sess, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("session read back (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteIDs checks that planes sharing an id and lines with negative,
// 64-bit and duplicate ids are written as they are.
func TestWriteIDs(t *testing.T) {
	c := &capture.Capture{BaseNS: 1_770_000_000_000_000_000, Planes: []*capture.Plane{
		{ID: 0, Name: "/host:metadata"},
		{ID: 0, Name: "/device:GPU:0", Lines: []*capture.Line{
			{ID: -1, DisplayID: -1, Name: "Stream #-1(Kernel)", Events: []capture.Event{{Name: "k", Start: 1, Dur: 2}}},
			{ID: math.MinInt64, Name: "min"},
			{ID: math.MaxInt64, DisplayID: 7, Name: "max", Events: []capture.Event{{Name: "k", Start: 3, Dur: 2}}},
			{ID: 7, DisplayID: 7, Name: "dup"},
		}},
		{ID: 0, Name: "/host:CPU", Lines: []*capture.Line{{ID: 1 << 40, DisplayID: 1 << 40, Name: "t"}}},
	}}
	b := writeBytes(t, c)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := walkLoad(t, f)
	var gotPlanes, wantPlanes []capture.PlaneInfo
	var gotLines, wantLines []capture.LineInfo
	for i, p := range c.Planes {
		wantPlanes = append(wantPlanes, capture.PlaneInfo{ID: p.ID, Name: p.Name})
		for _, l := range p.Lines {
			li := capture.LineInfo{ID: l.ID, DisplayID: l.DisplayID, Name: l.Name}
			if li.DisplayID == 0 {
				li.DisplayID = li.ID
			}
			wantLines = append(wantLines, li)
		}
		gotPlanes = append(gotPlanes, r.planes[i])
		gotLines = append(gotLines, r.lines[i]...)
	}
	if diff := cmp.Diff(wantPlanes, gotPlanes, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("planes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
