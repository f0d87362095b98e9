package xplane

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
)

// synthetic builds an XSpace shaped like an sglang-jax capture: per TPU an
// "XLA Modules" and an "XLA Ops" line (500 op names with tf_op, hlo_category
// and flops on the metadata), and a host plane whose python3 line holds
// most events (every tenth with a group_id stat). It has
// devices*(opsPerDevice+opsPerDevice/250) + hostEvents + 2 events.
func synthetic(devices, opsPerDevice, hostEvents int) []byte {
	var out []byte
	appendEvent := func(line []byte, meta, offset, dur int64, stats ...[]byte) []byte {
		var ev []byte
		ev = protowire.AppendTag(ev, 1, protowire.VarintType)
		ev = protowire.AppendVarint(ev, uint64(meta))
		ev = protowire.AppendTag(ev, 2, protowire.VarintType)
		ev = protowire.AppendVarint(ev, uint64(offset))
		ev = protowire.AppendTag(ev, 3, protowire.VarintType)
		ev = protowire.AppendVarint(ev, uint64(dur))
		for _, s := range stats {
			ev = protowire.AppendTag(ev, 4, protowire.BytesType)
			ev = protowire.AppendBytes(ev, s)
		}
		line = protowire.AppendTag(line, 4, protowire.BytesType)
		return protowire.AppendBytes(line, ev)
	}
	const ts = 1770322563152571
	for d := range devices {
		modules := concat(fInt(1, 2), fString(2, "XLA Modules"), fInt(3, ts))
		ops := concat(fInt(1, 3), fString(2, "XLA Ops"), fInt(3, ts))
		var t int64
		for i := range opsPerDevice {
			if i%250 == 0 {
				modules = appendEvent(modules, 1000, t, 250*1_500_000)
			}
			dur := int64(200_000 + (i*7919)%3_000_000)
			ops = appendEvent(ops, int64(1+i%500), t, dur)
			t += dur + 1250
		}
		var meta []byte
		meta = append(meta, xEventMeta(1000, "jit_run_model(123)")...)
		for m := 1; m <= 500; m++ {
			meta = append(meta, xEventMeta(int64(m), "fusion."+strconv.Itoa(m),
				xStatStr(1, "jit(jitted_run_model)/Qwen3MLP/down_proj/dot_general:dot_general"),
				xStatStr(2, "convolution fusion"),
				concat(fInt(1, 3), fVarint(3, uint64(m)*1000)))...)
		}
		meta = append(meta, concat(xStatMeta(1, "tf_op"), xStatMeta(2, "hlo_category"), xStatMeta(3, "flops"))...)
		out = append(out, xPlane(int64(d), "/device:TPU:"+strconv.Itoa(d),
			[][]byte{append(modules, fInt(10, 2)...), append(ops, fInt(10, 3)...)}, meta)...)
	}
	host := concat(fInt(1, 102), fString(2, "python3"), fInt(3, ts-33_000_000))
	var t int64
	for i := range hostEvents {
		dur := int64(1_000_000 + (i*104729)%20_000_000)
		if i%10 == 0 {
			host = appendEvent(host, int64(1+i%29), t, dur, xStatInt(1, int64(i)))
		} else {
			host = appendEvent(host, int64(1+i%29), t, dur)
		}
		t += dur / 2
	}
	var meta []byte
	for m := 1; m <= 29; m++ {
		meta = append(meta, xEventMeta(int64(m), "$python.py:"+strconv.Itoa(m)+" step")...)
	}
	meta = append(meta, xStatMeta(1, "group_id")...)
	lines := [][]byte{
		xLine(100, "Thread-1", ts-33_000_000, xEvent(1, 0, 5_000_000_000_000)),
		xLine(101, "Thread-2", ts-33_000_000, xEvent(2, 0, 5_000_000_000_000)),
		append(host, fInt(10, 102)...),
	}
	out = append(out, xPlane(700, "/host:CPU", lines, meta)...)
	return append(out, fString(4, "t1v-n-synthetic-w-0")...)
}

// tally is the cheapest useful Visitor.
type tally struct {
	events, sum int64
}

func (c *tally) Base(int64)                     {}
func (c *tally) Plane(capture.PlaneInfo) int    { return 0 }
func (c *tally) Line(int, capture.LineInfo) int { return 0 }
func (c *tally) Event(e *capture.RawEvent) error {
	c.events++
	c.sum += e.Start + e.Dur + int64(len(e.Name))
	return nil
}

func benchWalkFile(b *testing.B, path string) {
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var events int64
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := Open(fh, st.Size())
		if err != nil {
			b.Fatal(err)
		}
		c := &tally{}
		if err := f.Walk(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		events += c.events
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	}
}

// BenchmarkWalkSynthetic walks a 1,004,002-event synthetic XSpace from disk.
func BenchmarkWalkSynthetic(b *testing.B) {
	path := filepath.Join(b.TempDir(), "synthetic.xplane.pb")
	if err := os.WriteFile(path, synthetic(2, 250_000, 500_000), 0o644); err != nil {
		b.Fatal(err)
	}
	benchWalkFile(b, path)
}

// BenchmarkWalkSeedReplica walks the seed replica (356,442 events).
func BenchmarkWalkSeedReplica(b *testing.B) { benchWalkFile(b, captures[1].path(b)) }

// BenchmarkWalkGPU walks the real GPU capture (23,128 events, heavy stats).
func BenchmarkWalkGPU(b *testing.B) { benchWalkFile(b, captures[2].path(b)) }

// BenchmarkUnmarshalSeedReplica is the baseline: proto.Unmarshal of the
// whole seed replica through the generated types.
func BenchmarkUnmarshalSeedReplica(b *testing.B) {
	data, err := os.ReadFile(captures[1].path(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var s xplanev1.XSpace
		if err := proto.Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(356442*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLoadGPU loads every event of the GPU capture (about 4 stats
// each).
func BenchmarkLoadGPU(b *testing.B) {
	data, err := os.ReadFile(captures[2].path(b))
	if err != nil {
		b.Fatal(err)
	}
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	r := &capturetest.Recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var ev capture.Event
	var n int
	for b.Loop() {
		for _, e := range r.Events {
			if err := f.Load(e.Ref, &ev); err != nil {
				b.Fatal(err)
			}
		}
		n += len(r.Events)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/load")
}

// TestSynthetic checks the benchmark's file and that Walk's allocations do
// not grow with the number of events.
func TestSynthetic(t *testing.T) {
	allocs := func(hostEvents int) float64 {
		data := synthetic(2, 2000, hostEvents)
		f, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		c := &tally{}
		if err := f.Walk(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if want := int64(2*(2000+8) + hostEvents + 2); c.events != want {
			t.Fatalf("synthetic(2, 2000, %d): %d events, want %d", hostEvents, c.events, want)
		}
		return testing.AllocsPerRun(3, func() {
			if err := f.Walk(context.Background(), &tally{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(1000), allocs(100_000)
	if large != small || large > 50 {
		t.Errorf("Walk allocations: %v for 5k events, %v for 104k events; want the same, and few", small, large)
	}
}
