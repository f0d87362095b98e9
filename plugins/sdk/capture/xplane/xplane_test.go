package xplane

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"math"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
)

// TestFixtures checks event totals, device op events and the span of the
// shared captures against their truth.json.
func TestFixtures(t *testing.T) {
	tests := []struct {
		fx         fixture
		wantEvents int64
		wantPlanes int
		wantHosts  []string
	}{
		{captures[0], 1472, 3, []string{"tiny-host"}},
		{captures[1], 356442, 2, []string{"t1v-n-3d21a6bb-w-0"}},
		{captures[2], 23128, 9, []string{"34.83.195.179:6003"}},
	}
	for _, tt := range tests {
		t.Run(tt.fx.name, func(t *testing.T) {
			tr := tt.fx.truth(t)
			if tr.EventsTotal != tt.wantEvents {
				t.Fatalf("truth events_total = %d, want %d", tr.EventsTotal, tt.wantEvents)
			}
			f := openFile(t, tt.fx.path(t))
			if got := f.Hostnames(); !cmp.Equal(got, tt.wantHosts) {
				t.Errorf("Hostnames() = %q, want %q", got, tt.wantHosts)
			}
			if len(f.Errors()) != 0 || len(f.Warnings()) != 0 {
				t.Errorf("Errors() = %q, Warnings() = %q, want none", f.Errors(), f.Warnings())
			}
			c := &counter{}
			if err := f.Walk(context.Background(), c); err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if c.bases != 1 {
				t.Errorf("Base called %d times, want 1", c.bases)
			}
			if len(c.planes) != tt.wantPlanes {
				t.Errorf("Walk declared %d planes, want %d", len(c.planes), tt.wantPlanes)
			}
			if c.events != tr.EventsTotal {
				t.Errorf("Walk visited %d events, want events_total %d", c.events, tr.EventsTotal)
			}
			if got := f.Aggregated(); got != 0 {
				t.Errorf("Aggregated() = %d, want 0", got)
			}
			gotOps := map[string]int64{}
			for i, p := range c.planes {
				if capture.IsDevicePlane(p.Name) && c.ops[i] > 0 {
					gotOps[p.Name] = c.ops[i]
				}
			}
			wantOps := map[string]int64{}
			for name, d := range tr.Devices {
				wantOps[name] = d.OpEvents
			}
			if diff := cmp.Diff(wantOps, gotOps); diff != "" {
				t.Errorf("op events per device (-truth +got):\n%s", diff)
			}
			wantSpan := microsToPS(t, tr.SpanUS.String())
			if got := c.last - c.first; got != wantSpan {
				t.Errorf("span = %d ps, want %d ps (span_us %s)", got, wantSpan, tr.SpanUS)
			}
		})
	}
}

// counter is a Visitor that counts and measures.
type counter struct {
	bases       int
	planes      []capture.PlaneInfo
	ops         []int64
	opLine      [][]bool
	events      int64
	first, last int64
	sum         int64
}

func (c *counter) Base(int64) { c.bases++; c.first, c.last = math.MaxInt64, math.MinInt64 }

func (c *counter) Plane(p capture.PlaneInfo) int {
	c.planes = append(c.planes, p)
	c.ops = append(c.ops, 0)
	c.opLine = append(c.opLine, nil)
	return len(c.planes) - 1
}

func (c *counter) Line(plane int, l capture.LineInfo) int {
	c.opLine[plane] = append(c.opLine[plane], capture.IsDevicePlane(c.planes[plane].Name) && capture.IsOpLine(l.Name))
	return len(c.opLine[plane]) - 1
}

func (c *counter) Event(e *capture.RawEvent) error {
	c.events++
	if c.opLine[e.Plane][e.Line] {
		c.ops[e.Plane]++
	}
	c.first, c.last = min(c.first, e.Start), max(c.last, e.Start+e.Dur)
	c.sum += int64(len(e.Name))
	return nil
}

// TestOracle compares Walk and Load with proto.Unmarshal through the
// generated types, event by event.
func TestOracle(t *testing.T) {
	for _, fx := range captures {
		t.Run(fx.name, func(t *testing.T) {
			if testing.Short() && fx.name == "seed-replica" {
				t.Skip("short: skipping the 356k-event oracle")
			}
			b, err := os.ReadFile(fx.path(t))
			if err != nil {
				t.Fatal(err)
			}
			want := oracle(t, b)
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			_, got := capturetest.WalkLoad(t, f)
			if len(got) != len(want) {
				t.Fatalf("Walk+Load gave %d events, oracle %d", len(got), len(want))
			}
			if i := capturetest.FirstDiff(want, got); i >= 0 {
				t.Fatalf("event %d (-oracle +got):\n%s", i, cmp.Diff(want[i], got[i], cmpopts.EquateEmpty()))
			}
		})
	}
}

// oracle decodes a file with proto.Unmarshal and lists its timeline events
// with the reader's semantics.
func oracle(t testing.TB, b []byte) []capturetest.Loaded {
	t.Helper()
	var space xplanev1.XSpace
	if err := proto.Unmarshal(b, &space); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	var out []capturetest.Loaded
	for _, p := range space.GetPlanes() {
		resolve := func(s *xplanev1.XStat) capture.Stat {
			st := capture.Stat{Name: p.GetStatMetadata()[s.GetMetadataId()].GetName()}
			switch v := s.GetValue().(type) {
			case *xplanev1.XStat_DoubleValue:
				st.Kind, st.Double = capture.StatDouble, v.DoubleValue
			case *xplanev1.XStat_Uint64Value:
				st.Kind, st.Uint = capture.StatUint, v.Uint64Value
			case *xplanev1.XStat_Int64Value:
				st.Kind, st.Int = capture.StatInt, v.Int64Value
			case *xplanev1.XStat_StrValue:
				st.Kind, st.Str = capture.StatString, v.StrValue
			case *xplanev1.XStat_BytesValue:
				st.Kind, st.Bytes = capture.StatBytes, v.BytesValue
			case *xplanev1.XStat_RefValue:
				st.Kind, st.Str = capture.StatString, p.GetStatMetadata()[int64(v.RefValue)].GetName()
			case *xplanev1.XStat_CompressedStrValue:
				zr, err := gzip.NewReader(bytes.NewReader(v.CompressedStrValue))
				if err != nil {
					t.Fatal(err)
				}
				s, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				st.Kind, st.Str = capture.StatString, string(s)
			default:
				st.Kind = capture.StatString
			}
			return st
		}
		for _, l := range p.GetLines() {
			for _, e := range l.GetEvents() {
				if _, ok := e.GetData().(*xplanev1.XEvent_NumOccurrences); ok {
					continue
				}
				m := p.GetEventMetadata()[e.GetMetadataId()]
				var stats []capture.Stat
				for _, s := range m.GetStats() {
					stats = append(stats, resolve(s))
				}
				nm := len(stats)
				for _, s := range e.GetStats() {
					st := resolve(s)
					if i := indexStat(stats[:nm], st.Name); i >= 0 {
						stats[i] = st
					} else {
						stats = append(stats, st)
					}
				}
				ns, ps := capturetest.SplitPS(l.GetTimestampNs(), e.GetOffsetPs())
				out = append(out, capturetest.Loaded{
					Plane: p.GetName(), Line: l.GetName(),
					Name: m.GetName(), DisplayName: m.GetDisplayName(),
					StartNS: ns, StartPS: ps, Dur: e.GetDurationPs(), Stats: stats,
				})
			}
		}
	}
	return out
}

// TestBufferSizes walks with tiny buffers, which take the slow paths, and
// expects what the default buffer gives.
func TestBufferSizes(t *testing.T) {
	b, err := os.ReadFile(captures[2].path(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	wantPlanes := f.Planes()
	wantRec, want := capturetest.WalkLoad(t, f)
	for _, size := range []int{1, 16, 17, 64, 1000, 4096} {
		f, err := open(bytes.NewReader(b), int64(len(b)), size)
		if err != nil {
			t.Fatalf("open(buffer %d): %v", size, err)
		}
		if diff := cmp.Diff(wantPlanes, f.Planes()); diff != "" {
			t.Fatalf("buffer %d: Planes() (-default +small):\n%s", size, diff)
		}
		rec, got := capturetest.WalkLoad(t, f)
		if diff := cmp.Diff(wantRec.Lines, rec.Lines); diff != "" {
			t.Errorf("buffer %d: lines (-default +small):\n%s", size, diff)
		}
		if len(got) != len(want) {
			t.Fatalf("buffer %d: %d events, want %d", size, len(got), len(want))
		}
		if i := capturetest.FirstDiff(want, got); i >= 0 {
			t.Errorf("buffer %d: event %d (-default +small):\n%s", size, i, cmp.Diff(want[i], got[i], cmpopts.EquateEmpty()))
		}
	}
}

// TestPlanes checks what Open reports of the planes, without walking.
func TestPlanes(t *testing.T) {
	f := openFile(t, captures[0].path(t))
	type row struct {
		ID                  int64
		Name                string
		Lines, EMeta, SMeta int
	}
	var got []row
	for _, p := range f.Planes() {
		got = append(got, row{p.ID, p.Name, p.Lines, p.EventMetadata, p.StatMetadata})
	}
	want := []row{
		{0, "/device:TPU:0", 2, 27, 3},
		{1, "/device:TPU:1", 2, 27, 3},
		{700, "/host:CPU", 3, 30, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Planes() (-want +got):\n%s", diff)
	}
	if got, want := f.BaseNS(), int64(1770322563152571); got != want {
		t.Errorf("BaseNS() = %d, want %d", got, want)
	}
}

// TestConcurrent walks and loads one File from several goroutines (run
// with -race).
func TestConcurrent(t *testing.T) {
	f := openFile(t, captures[0].path(t))
	errs := make(chan error, 4)
	counts := make(chan int, 4)
	for range 4 {
		go func() {
			r := &capturetest.Recorder{}
			if err := f.Walk(context.Background(), r); err != nil {
				errs <- err
				return
			}
			for _, e := range r.Events {
				var ev capture.Event
				if err := f.Load(e.Ref, &ev); err != nil {
					errs <- err
					return
				}
			}
			counts <- len(r.Events)
		}()
	}
	for range 4 {
		select {
		case err := <-errs:
			t.Fatal(err)
		case n := <-counts:
			if n != 1472 {
				t.Errorf("a concurrent walk saw %d events, want 1472", n)
			}
		}
	}
}
