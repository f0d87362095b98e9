package trim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// reference trims f the slow, obvious way: windows from the union of the
// op lines' events, each line's events sorted and nested with a stack for
// their self times, and every event kept or summed on its own.
func reference(f fixture, gap, pad int64) (kept map[[2]int][]string, dropped []capture.Dropped) {
	var busy []capture.Interval
	span := capture.Interval{Start: f.events[0].start, End: f.events[0].start + f.events[0].dur}
	for _, e := range f.events {
		span.Start = min(span.Start, e.start)
		span.End = max(span.End, e.start+e.dur)
		if capture.IsDevicePlane(f.planes[e.plane]) && capture.IsOpLine(f.lines[e.plane][e.line]) {
			busy = append(busy, capture.Interval{Start: e.start, End: e.start + e.dur})
		}
	}
	windows := capture.Windows(busy, gap, pad, span)
	type item struct {
		ev   ev
		i    int
		self int64
	}
	byLine := map[[2]int][]item{}
	for i, e := range f.events {
		k := [2]int{e.plane, e.line}
		byLine[k] = append(byLine[k], item{ev: e, i: i})
	}
	kept = map[[2]int][]string{}
	sums := map[string]*capture.Dropped{}
	for k, items := range byLine {
		slices.SortFunc(items, func(a, b item) int {
			if c := cmp.Compare(a.ev.start, b.ev.start); c != 0 {
				return c
			}
			if c := cmp.Compare(b.ev.dur, a.ev.dur); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		var stack []int
		for j := range items {
			it := &items[j]
			it.self = it.ev.dur
			for len(stack) > 0 {
				top := &items[stack[len(stack)-1]]
				if it.ev.start+it.ev.dur <= top.ev.start+top.ev.dur {
					break
				}
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 {
				items[stack[len(stack)-1]].self -= it.ev.dur
			}
			stack = append(stack, j)
		}
		for _, it := range items {
			if capture.Hits(windows, capture.Interval{Start: it.ev.start, End: it.ev.start + it.ev.dur}) {
				kept[k] = append(kept[k], fmt.Sprintf("%s@%d+%d self=%d", it.ev.name, it.ev.start, it.ev.dur, it.self))
				continue
			}
			key := fmt.Sprintf("%d/%d/%s", k[0], k[1], it.ev.name)
			d := sums[key]
			if d == nil {
				d = &capture.Dropped{Plane: k[0], Line: k[1], Name: it.ev.name}
				sums[key] = d
			}
			d.Count++
			d.Total += it.ev.dur
			d.Self += it.self
		}
	}
	for _, d := range sums {
		dropped = append(dropped, *d)
	}
	return kept, dropped
}

// randomFixture makes a device with bursts of ops and host lines of nested
// events (some longer than longDur), n events in all; shuffled lines come
// out of order.
func randomFixture(r *rand.Rand, n int, shuffle bool) fixture {
	f := fixture{
		planes: []string{"/device:TPU:0", "/host:CPU"},
		lines:  [][]string{{"XLA Modules", "XLA Ops"}, {"main", "worker", "waits"}},
	}
	const ms = capture.Millisecond
	spanEnd := int64(2000) * ms
	// Device ops in a few bursts.
	for b := range 5 {
		t := int64(b)*400*ms + r.Int64N(100*ms)
		for range 50 + r.IntN(100) {
			d := 1 + r.Int64N(200*us)
			f.events = append(f.events, ev{0, 1, fmt.Sprintf("op.%d", r.IntN(20)), t, d})
			t += d + r.Int64N(50*us)
		}
	}
	// Host lines: trees of nested events.
	var tree func(line int, start, end int64, depth int)
	tree = func(line int, start, end int64, depth int) {
		for t := start; t < end && len(f.events) < n; {
			d := min(end-t, 1+r.Int64N((end-start)/2+1))
			f.events = append(f.events, ev{1, line, fmt.Sprintf("fn.%d.%d", depth, r.IntN(8)), t, d})
			if depth < 4 && d > 10 {
				tree(line, t, t+d, depth+1)
			}
			t += d + r.Int64N(d/4+1)
		}
	}
	for len(f.events) < n {
		line := r.IntN(2)
		s := r.Int64N(spanEnd)
		tree(line, s, s+r.Int64N(30*ms), 0)
	}
	// Two waits over everything.
	f.events = append(f.events, ev{1, 2, "wait", 0, spanEnd}, ev{1, 2, "wait", 0, spanEnd / 2})
	// Each host line in time order, as readers give them, unless shuffled.
	host := f.events[:0:0]
	var dev []ev
	for _, e := range f.events {
		if e.plane == 0 {
			dev = append(dev, e)
		} else {
			host = append(host, e)
		}
	}
	slices.SortStableFunc(host, func(a, b ev) int {
		if c := cmp.Compare(a.line, b.line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(b.dur, a.dur)
	})
	if shuffle {
		// Out of order from the middle of the first line on.
		mid := len(host) / 3
		r.Shuffle(len(host)-mid, func(i, j int) { host[mid+i], host[mid+j] = host[mid+j], host[mid+i] })
	}
	f.events = append(dev, host...)
	return f
}

// TestTrimMatchesReference checks Finish against reference on random
// captures large enough for many chunks, with long events, in order and out
// of order, with and without a spill file.
func TestTrimMatchesReference(t *testing.T) {
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 99))
		f := randomFixture(r, 20_000+r.IntN(20_000), seed%2 == 1)
		t.Run(fmt.Sprintf("seed %d, %d events, shuffled %v", seed, len(f.events), seed%2 == 1), func(t *testing.T) {
			wantKept, wantDropped := reference(f, capture.DefaultGap, capture.DefaultPad)
			res, err := run(t, f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkAgainst(t, res.Capture, wantKept, wantDropped)
		})
	}
}

// TestTrimManyLongEvents has more long events than are held in memory.
func TestTrimManyLongEvents(t *testing.T) {
	f := fixture{
		planes: []string{"/device:TPU:0", "/host:CPU"},
		lines:  [][]string{{"XLA Ops"}, {"a", "b"}},
	}
	f.events = append(f.events, ev{0, 0, "op", 5 * capture.Second, 10 * us})
	for i := range maxLong + 5000 {
		// Overlapping long events on two lines, each its own nest.
		start := int64(i) * 100 * us
		f.events = append(f.events, ev{1, i % 2, fmt.Sprintf("long.%d", i%3), start, longDur + int64(i%7)*us})
	}
	wantKept, wantDropped := reference(f, capture.DefaultGap, capture.DefaultPad)
	res, err := run(t, f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, res.Capture, wantKept, wantDropped)
}

func checkAgainst(t *testing.T, c *capture.Capture, wantKept map[[2]int][]string, wantDropped []capture.Dropped) {
	t.Helper()
	gotKept := map[[2]int][]string{}
	for pi, p := range c.Planes {
		for li, l := range p.Lines {
			for _, e := range l.Events {
				k := [2]int{pi, li}
				gotKept[k] = append(gotKept[k], fmt.Sprintf("%s@%d+%d self=%d", e.Name, e.Start, e.Dur, e.Self))
			}
		}
	}
	if diff := gocmp.Diff(wantKept, gotKept); diff != "" {
		t.Errorf("kept events (-reference +Finish):\n%s", diff)
	}
	sortDropped := func(d []capture.Dropped) {
		slices.SortFunc(d, func(a, b capture.Dropped) int {
			return cmp.Or(cmp.Compare(a.Plane, b.Plane), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Name, b.Name))
		})
	}
	got := slices.Clone(c.Dropped)
	sortDropped(got)
	sortDropped(wantDropped)
	if diff := gocmp.Diff(wantDropped, got); diff != "" {
		t.Errorf("dropped (-reference +Finish):\n%s", diff)
	}
}

// BenchmarkFinish times the second pass on 2M host events in time order
// with a few bursts of device ops, as a trace JSON or XSpace gives them.
func BenchmarkFinish(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	f := randomFixture(r, 2_000_000, false)
	b.ResetTimer()
	for b.Loop() {
		x := NewIndexer(Options{})
		x.Base(0)
		for pi, p := range f.planes {
			x.Plane(capture.PlaneInfo{ID: int64(pi), Name: p})
			for li, l := range f.lines[pi] {
				x.Line(pi, capture.LineInfo{ID: int64(li), Name: l})
			}
		}
		for i, e := range f.events {
			if err := x.Event(&capture.RawEvent{Plane: e.plane, Line: e.line, Name: []byte(e.name), Start: e.start, Dur: e.dur, Ref: capture.Ref{Off: int64(i), Len: 1}}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := x.Finish(context.Background(), memLoader{f.events}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(f.events))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
}

// forkLoader is a memLoader that can fork; failAt makes Load fail at that
// ref offset.
type forkLoader struct {
	memLoader
	forks  *atomic.Int32
	failAt int64
}

func (f forkLoader) Fork() capture.Loader {
	f.forks.Add(1)
	return f
}

func (f forkLoader) Load(ref capture.Ref, e *capture.Event) error {
	if ref.Off == f.failAt {
		return errors.New("boom")
	}
	return f.memLoader.Load(ref, e)
}

// TestTrimForkedLoads loads many kept events through a Forker: on two
// goroutines, with the same result, and a failure on either comes back.
func TestTrimForkedLoads(t *testing.T) {
	f := fixture{
		planes: []string{"/device:TPU:0", "/host:CPU"},
		lines:  [][]string{{"XLA Ops"}, {"main"}},
	}
	for i := range 3 * minForkLoads {
		f.events = append(f.events, ev{0, 0, fmt.Sprintf("op.%d", i%5), int64(i) * 10 * us, 5 * us})
		f.events = append(f.events, ev{1, 0, "host", int64(i) * 10 * us, 2 * us})
	}
	wantKept, wantDropped := reference(f, capture.DefaultGap, capture.DefaultPad)
	for _, failAt := range []int64{-1, 3, int64(len(f.events) - 2)} {
		var forks atomic.Int32
		res, err := runWith(t, f, Options{}, forkLoader{memLoader: memLoader{f.events}, forks: &forks, failAt: failAt})
		if forks.Load() != 1 {
			t.Errorf("failAt %d: %d forks, want 1", failAt, forks.Load())
		}
		if failAt >= 0 {
			if err == nil || !strings.Contains(err.Error(), "boom") {
				t.Errorf("failAt %d: err = %v, want boom", failAt, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkAgainst(t, res.Capture, wantKept, wantDropped)
	}
}
