package trim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

const us = capture.Microsecond

// ev is a test event: plane/line indexes into the fixture's layout.
type ev struct {
	plane, line int
	name        string
	start, dur  int64
}

type fixture struct {
	planes []string
	lines  [][]string
	events []ev
}

// memLoader loads events from the fixture by their ref offset.
type memLoader struct{ events []ev }

func (m memLoader) Load(ref capture.Ref, e *capture.Event) error {
	if ref.Off < 0 || ref.Off >= int64(len(m.events)) {
		return fmt.Errorf("no event at %d", ref.Off)
	}
	e.Name = m.events[ref.Off].name
	e.Stats = []capture.Stat{{Name: "i", Kind: capture.StatInt, Int: ref.Off}}
	return nil
}

func run(t *testing.T, f fixture, opts Options) (*Result, error) {
	t.Helper()
	return runWith(t, f, opts, memLoader{f.events})
}

func runWith(t *testing.T, f fixture, opts Options, ld capture.Loader) (*Result, error) {
	t.Helper()
	x := NewIndexer(opts)
	x.Base(1_770_000_000_000_000_000)
	for pi, p := range f.planes {
		x.Plane(capture.PlaneInfo{ID: int64(pi), Name: p})
		for li, l := range f.lines[pi] {
			x.Line(pi, capture.LineInfo{ID: int64(li), DisplayID: int64(li), Name: l})
		}
	}
	for i, e := range f.events {
		if err := x.Event(&capture.RawEvent{Plane: e.plane, Line: e.line, Name: []byte(e.name), Start: e.start, Dur: e.dur, Ref: capture.Ref{Off: int64(i), Len: 1}}); err != nil {
			return nil, err
		}
	}
	return x.Finish(context.Background(), ld)
}

func base() fixture {
	return fixture{
		planes: []string{"/device:TPU:0", "/host:CPU"},
		lines:  [][]string{{"XLA Modules", "XLA Ops"}, {"python3"}},
		events: []ev{
			// Two bursts of ops 500us apart (merged) and a third 5ms later.
			{0, 1, "fusion.1", 10_000 * us, 100 * us},
			{0, 1, "fusion.2", 10_600 * us, 50 * us},
			{0, 1, "dot.3", 15_650 * us, 10 * us},
			{0, 0, "jit_run(1)", 10_000 * us, 650 * us},
			// Host: a parent with two children, one inside a window, one not.
			{1, 0, "loop", 0, 20_000 * us},
			{1, 0, "poll", 1_000 * us, 10 * us},
			{1, 0, "poll", 10_620 * us, 5 * us},
			{1, 0, "recv", 10_621 * us, 1 * us},
			{1, 0, "poll", 12_000 * us, 7 * us},
		},
	}
}

func TestTrimWindowsKeptDropped(t *testing.T) {
	res, err := run(t, base(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capture
	wantWin := []capture.Interval{{Start: 9_900 * us, End: 10_750 * us}, {Start: 15_550 * us, End: 15_760 * us}}
	if diff := cmp.Diff(wantWin, c.Windows); diff != "" {
		t.Errorf("windows (-want +got):\n%s", diff)
	}
	if got, want := c.Span, (capture.Interval{Start: 0, End: 20_000 * us}); got != want {
		t.Errorf("span = %v, want %v", got, want)
	}
	if got := c.Planes[0].Busy; got != 160*us {
		t.Errorf("busy = %d, want %d", got, 160*us)
	}
	if got := c.Planes[0].OpEvents; got != 3 {
		t.Errorf("op events = %d, want 3", got)
	}
	if got := c.EventsKept(); got != 7 {
		t.Errorf("kept = %d, want 7", got)
	}
	host := c.Planes[1].Lines[0].Events
	var names []string
	for _, e := range host {
		names = append(names, fmt.Sprintf("%s@%d self=%d", e.Name, e.Start/us, e.Self/us))
	}
	// loop's direct children are the three polls (recv nests in the second poll).
	want := []string{"loop@0 self=19978", "poll@10620 self=4", "recv@10621 self=1"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("kept host events (-want +got):\n%s", diff)
	}
	wantDrop := []capture.Dropped{{Plane: 1, Line: 0, Name: "poll", Count: 2, Total: 17 * us, Self: 17 * us}}
	if diff := cmp.Diff(wantDrop, c.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if st, ok := host[0].Stat("i"); !ok || st.Int != 4 {
		t.Errorf("kept event not loaded through the loader: %+v", host[0].Stats)
	}
}

func TestTrimUnsortedLineMatchesSorted(t *testing.T) {
	f := base()
	want, err := run(t, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		g := f
		g.events = append([]ev(nil), f.events...)
		r.Shuffle(len(g.events), func(a, b int) { g.events[a], g.events[b] = g.events[b], g.events[a] })
		got, err := run(t, g, Options{Spill: &memSpill{}})
		if err != nil {
			t.Fatal(err)
		}
		// Stats carry the source index, which shuffling changes.
		for _, c := range []*capture.Capture{got.Capture} {
			for _, p := range c.Planes {
				for _, l := range p.Lines {
					for j := range l.Events {
						l.Events[j].Stats = nil
					}
				}
			}
		}
		for _, p := range want.Capture.Planes {
			for _, l := range p.Lines {
				for j := range l.Events {
					l.Events[j].Stats = nil
				}
			}
		}
		if diff := cmp.Diff(want.Capture, got.Capture); diff != "" {
			t.Fatalf("shuffle %d: capture differs (-sorted +shuffled):\n%s", i, diff)
		}
	}
}

func TestTrimOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		windows int
	}{
		{"defaults", Options{}, 2},
		{"huge gap merges all", Options{Gap: 10 * capture.Millisecond}, 1},
		{"no gap no pad", Options{Gap: -1, Pad: -1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, base(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Capture.Windows); got != tt.windows {
				t.Errorf("windows = %d (%v), want %d", got, res.Capture.Windows, tt.windows)
			}
		})
	}
}

func TestTrimErrors(t *testing.T) {
	hostOnly := fixture{planes: []string{"/host:CPU"}, lines: [][]string{{"t"}}, events: []ev{{0, 0, "a", 0, 5}}}
	noOps := fixture{planes: []string{"/device:TPU:0"}, lines: [][]string{{"Steps"}}, events: []ev{{0, 0, "s", 0, 5}}}
	tests := []struct {
		name string
		f    fixture
		want error
	}{
		{"empty", fixture{}, ErrEmpty},
		{"no device plane", hostOnly, ErrNoDevicePlane},
		{"no device ops", noOps, ErrNoDeviceOps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.f, Options{})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	res, err := run(t, hostOnly, Options{AllowNoDevice: true})
	if err != nil {
		t.Fatalf("AllowNoDevice: %v", err)
	}
	if res.Capture.EventsKept() != 0 || len(res.Capture.Dropped) != 1 {
		t.Errorf("AllowNoDevice: kept %d dropped %v, want 0 kept and one summary", res.Capture.EventsKept(), res.Capture.Dropped)
	}
}

func TestEventCapWarning(t *testing.T) {
	if warnCap(1_000_000) == "" || warnCap(5_000_000) == "" || warnCap(999_999) != "" {
		t.Error("warnCap flags the wrong counts")
	}
}
