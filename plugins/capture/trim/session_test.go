package trim

import (
	"context"
	"os"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// TestSpanRule: the span is the session widened to hold every event when a
// session is known and overlaps the events, else the events' extent.
func TestSpanRule(t *testing.T) {
	const baseNS = 1_770_000_000_000_000_000
	f := fixture{
		planes: []string{"/device:TPU:0"},
		lines:  [][]string{{"XLA Ops"}},
		events: []ev{{0, 0, "a", 100 * us, 10 * us}, {0, 0, "b", 300 * us, 10 * us}},
	}
	tests := []struct {
		name      string
		session   *capture.Interval // from the source
		sessionNS [2]int64          // from the agent
		wantSpan  capture.Interval
		wantFrom  string
	}{
		{"no session", nil, [2]int64{}, capture.Interval{Start: 100 * us, End: 310 * us}, capture.SpanFromEvents},
		{"session holds the events", &capture.Interval{Start: 0, End: 5000 * us}, [2]int64{}, capture.Interval{Start: 0, End: 5000 * us}, capture.SpanFromSession},
		{"session widened to an event", &capture.Interval{Start: 200 * us, End: 5000 * us}, [2]int64{}, capture.Interval{Start: 100 * us, End: 5000 * us}, capture.SpanFromSession},
		{"session misses the events", &capture.Interval{Start: 10_000 * us, End: 20_000 * us}, [2]int64{}, capture.Interval{Start: 100 * us, End: 310 * us}, capture.SpanFromEvents},
		{"agent's session", nil, [2]int64{baseNS, baseNS + 2_000_000}, capture.Interval{Start: 0, End: 2000 * us}, capture.SpanFromSession},
		// 2^64 ps later, less 384 ps: in int64 picoseconds it would wrap onto the events.
		{"agent's session 213 days away (a replayed file)", nil, [2]int64{baseNS + 18446744073709552, baseNS + 18446744073709552 + 1e9}, capture.Interval{Start: 100 * us, End: 310 * us}, capture.SpanFromEvents},
		{"agent's session 213 days before", nil, [2]int64{baseNS - 18446744073709552, baseNS - 18446744073709552 + 1e9}, capture.Interval{Start: 100 * us, End: 310 * us}, capture.SpanFromEvents},
		{"source's session wins over the agent's", &capture.Interval{Start: 0, End: 1000 * us}, [2]int64{baseNS, baseNS + 2_000_000}, capture.Interval{Start: 0, End: 1000 * us}, capture.SpanFromSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := NewIndexer(Options{SessionNS: tt.sessionNS})
			x.Base(baseNS)
			x.Plane(capture.PlaneInfo{Name: f.planes[0]})
			x.Line(0, capture.LineInfo{Name: f.lines[0][0]})
			if tt.session != nil {
				x.Session(tt.session.Start, tt.session.End)
			}
			for i, e := range f.events {
				if err := x.Event(&capture.RawEvent{Plane: e.plane, Line: e.line, Name: []byte(e.name), Start: e.start, Dur: e.dur, Ref: capture.Ref{Off: int64(i), Len: 1}}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := x.Finish(context.Background(), memLoader{f.events})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Capture
			if c.Span != tt.wantSpan || c.SpanFrom != tt.wantFrom {
				t.Errorf("span %v from %q, want %v from %q", c.Span, c.SpanFrom, tt.wantSpan, tt.wantFrom)
			}
			if got := capture.Summarize(c).Devices["/device:TPU:0"].IdleUS.Float(); got != float64(tt.wantSpan.Len()-20*us)/float64(us) {
				t.Errorf("idle = %v µs, want span − busy", got)
			}
		})
	}
}

// TestRenameReclassifies: a plane or line named only after its events (late
// metadata) still has its ops counted, from the spilled records.
func TestRenameReclassifies(t *testing.T) {
	for _, spill := range []bool{false, true} {
		opts := Options{}
		if spill {
			opts.Spill = newFileSpill(t)
		}
		x := NewIndexer(opts)
		x.Base(1_770_000_000_000_000_000)
		x.Plane(capture.PlaneInfo{Name: "pid 3"})
		x.Line(0, capture.LineInfo{Name: "tid 3"})
		x.Line(0, capture.LineInfo{Name: "tid 4"})
		x.Plane(capture.PlaneInfo{Name: "/device:TPU:9"})
		x.Line(1, capture.LineInfo{Name: "XLA Ops"})
		events := []ev{{0, 0, "op", 10 * us, 5 * us}, {0, 1, "module", 0, 100 * us}, {1, 0, "gone", 50 * us, 1 * us}}
		for i, e := range events {
			if err := x.Event(&capture.RawEvent{Plane: e.plane, Line: e.line, Name: []byte(e.name), Start: e.start, Dur: e.dur, Ref: capture.Ref{Off: int64(i), Len: 1}}); err != nil {
				t.Fatal(err)
			}
		}
		x.RenamePlane(0, "/device:TPU:0")
		x.RenameLine(0, 0, "XLA Ops")
		x.RenamePlane(1, "/host:CPU") // no longer a device
		res, err := x.Finish(context.Background(), memLoader{events})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Capture
		devs := c.Devices()
		if len(devs) != 1 || devs[0].Name != "/device:TPU:0" || devs[0].OpEvents != 1 || devs[0].Busy != 5*us {
			t.Fatalf("spill %v: devices = %+v, want /device:TPU:0 with 1 op of 5 µs", spill, devs)
		}
		if c.Planes[0].Lines[0].Name != "XLA Ops" || c.Planes[1].Name != "/host:CPU" {
			t.Errorf("names = %q %q, want the late names", c.Planes[0].Lines[0].Name, c.Planes[1].Name)
		}
		if want := []capture.Interval{{Start: 0, End: 100 * us}}; len(c.Windows) != 1 || c.Windows[0] != want[0] {
			t.Errorf("windows = %v, want %v (the op padded, clipped to the span)", c.Windows, want)
		}
	}
}

// newFileSpill returns a FileSpill over a temporary file closed at cleanup.
func newFileSpill(t *testing.T) FileSpill {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "spill")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return FileSpill{F: f}
}
