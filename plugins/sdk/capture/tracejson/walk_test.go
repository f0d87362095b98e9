package tracejson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/integration/golden"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestWalkFixtures(t *testing.T) {
	td := fixtures.Dir(t)
	tests := []struct {
		dir, file string
		loadAll   bool
	}{
		{"tiny", "tiny-host.trace.json", true},
		{"tiny", "tiny-host.trace.json.gz", true},
		{"seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixtures.ReadFile(t, filepath.Join(td, tt.dir, tt.file))
			want := fixtures.ReadTruth[truth](t, tt.dir)
			var c capturetest.Recorder
			st, err := Walk(context.Background(), bytes.NewReader(data), &c, WalkOptions{})
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if got := int64(len(c.Events)); got != want.EventsTotal || st.X != want.EventsTotal {
				t.Errorf("events = %d (Stats.X %d), want %d", got, st.X, want.EventsTotal)
			}
			if !st.Complete || st.Bytes != int64(len(data)) || st.LateMetadata != 0 || st.Skipped != 0 {
				t.Errorf("Stats = %+v, want complete, %d bytes, no late metadata, nothing skipped", st, len(data))
			}
			if st.Events != st.Phases["X"]+st.Phases["M"]+1 {
				t.Errorf("Stats.Events = %d, phases %v: want X+M+1 (the trailing {})", st.Events, st.Phases)
			}
			if c.Bases != 1 {
				t.Errorf("Base called %d times, want 1", c.Bases)
			}
			var ops int64
			span := capture.Interval{Start: c.Events[0].Start, End: c.Events[0].Start}
			for _, e := range c.Events {
				if capture.IsDevicePlane(c.Planes[e.Plane].Name) && capture.IsOpLine(c.Lines[e.Plane][e.Line].Name) {
					ops++
				}
				span.Start = min(span.Start, e.Start)
				span.End = max(span.End, e.Start+e.Dur)
			}
			if ops != want.DeviceOpEvents {
				t.Errorf("device op events = %d, want %d", ops, want.DeviceOpEvents)
			}
			us, ps, what := parseTime([]byte(want.SpanUS.String()))
			if what != "" {
				t.Fatalf("truth span_us %s: %s", want.SpanUS, what)
			}
			if got, wantPS := span.Len(), us*psPerUS+ps; got != wantPS {
				t.Errorf("span = %d ps, want %d ps (span_us %s)", got, wantPS, want.SpanUS)
			}
			// Every ref holds its event: load all (tiny) or every 97th.
			ld := NewLoader(bytes.NewReader(data))
			for i, e := range c.Events {
				if !tt.loadAll && i%97 != 0 {
					continue
				}
				var ev capture.Event
				if err := ld.Load(e.Ref, &ev); err != nil {
					t.Fatalf("Load(%+v): %v", e.Ref, err)
				}
				if ev.Name != e.Name {
					t.Fatalf("Load(%+v).Name = %q, want %q", e.Ref, ev.Name, e.Name)
				}
				if lt, ok := ev.Stat("long_name"); ok && ev.DisplayName != lt.Str {
					t.Fatalf("Load(%+v).DisplayName = %q, want long_name %q", e.Ref, ev.DisplayName, lt.Str)
				}
			}
		})
	}
}

// TestWalkSplitReads checks that the result does not depend on how the
// stream is cut into reads and blocks.
func TestWalkSplitReads(t *testing.T) {
	data := fixtures.ReadFile(t, filepath.Join(fixtures.Dir(t), "tiny", "tiny-host.trace.json"))
	var want capturetest.Recorder
	if _, err := Walk(context.Background(), bytes.NewReader(data), &want, WalkOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 7, 64, 333, 4096} {
		for _, oneByte := range []bool{false, true} {
			var got capturetest.Recorder
			var r = bytes.NewReader(data)
			var rd interface{ Read([]byte) (int, error) } = r
			if oneByte {
				rd = iotest.OneByteReader(r)
			}
			st, err := Walk(context.Background(), rd, &got, WalkOptions{BufferSize: size})
			if err != nil {
				t.Fatalf("Walk(BufferSize %d, one byte %v): %v", size, oneByte, err)
			}
			if st.Bytes != int64(len(data)) || len(got.Events) != len(want.Events) {
				t.Fatalf("Walk(BufferSize %d, one byte %v): %d events, %d bytes; want %d, %d",
					size, oneByte, len(got.Events), st.Bytes, len(want.Events), len(data))
			}
			for i := range got.Events {
				if got.Events[i] != want.Events[i] {
					t.Fatalf("Walk(BufferSize %d, one byte %v): event %d = %+v, want %+v",
						size, oneByte, i, got.Events[i], want.Events[i])
				}
			}
		}
	}
}

func TestWalkCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Walk(ctx, bytes.NewReader([]byte(`{"traceEvents":[]}`)), &capturetest.Recorder{}, WalkOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk(cancelled) = %v, want context.Canceled", err)
	}
}

func TestWalkMetadata(t *testing.T) {
	m := func(pid, tid int, kind, name string) string {
		if tid < 0 {
			return `{"ph":"M","pid":` + itoa(pid) + `,"name":"` + kind + `","args":{"name":"` + name + `"}}`
		}
		return `{"ph":"M","pid":` + itoa(pid) + `,"tid":` + itoa(tid) + `,"name":"` + kind + `","args":{"name":"` + name + `"}}`
	}
	x := func(pid, tid int, ts string) string {
		return `{"ph":"X","pid":` + itoa(pid) + `,"tid":` + itoa(tid) + `,"ts":` + ts + `,"dur":1,"name":"e"}`
	}
	doc := func(evs ...string) string { return `{"traceEvents":[` + join(evs) + `]}` }
	const marker = 0x7fff0000 // the pid fleetprof writes its markers on
	tests := []struct {
		name    string
		in      string
		planes  []string
		events  int
		late    int64
		skipped int64
	}{
		{"named first",
			doc(m(1, -1, "process_name", "/device:TPU:0"), m(1, 3, "thread_name", "XLA Ops"), x(1, 3, "10")),
			[]string{"/device:TPU:0 [XLA Ops]"}, 1, 0, 0},
		{"thread named before process",
			doc(m(1, 3, "thread_name", "XLA Ops"), m(1, -1, "process_name", "/device:TPU:0"), m(1, -1, "process_sort_index", "1"), x(1, 3, "10")),
			[]string{"/device:TPU:0 [XLA Ops]"}, 1, 0, 0},
		{"unnamed",
			doc(x(5, 7, "10"), x(5, 8, "11")),
			[]string{"pid 5 [tid 7,tid 8]"}, 2, 0, 0},
		{"named late",
			doc(x(5, 7, "10"), m(5, -1, "process_name", "/host:CPU"), m(5, 7, "thread_name", "python3"), m(5, 8, "thread_name", "other")),
			[]string{"pid 5 [tid 7,other]"}, 1, 2, 0},
		{"declared in metadata order",
			doc(m(2, -1, "process_name", "/device:TPU:1"), m(2, 3, "thread_name", "XLA Ops"), m(1, -1, "process_name", "/host:CPU"), x(1, 9, "10")),
			[]string{"/device:TPU:1 [XLA Ops]", "/host:CPU [tid 9]"}, 1, 0, 0},
		{"metadata only, declared at the end",
			doc(x(1, 9, "10"), m(2, -1, "process_name", "/device:TPU:1"), m(2, 3, "thread_name", "XLA Ops")),
			[]string{"pid 1 [tid 9]", "/device:TPU:1 [XLA Ops]"}, 1, 0, 0},
		{"renamed after the first event",
			doc(m(2, -1, "process_name", "/device:TPU:1"), x(1, 9, "10"), m(2, -1, "process_name", "/device:TPU:2"), m(2, -1, "process_name", "/device:TPU:1")),
			[]string{"/device:TPU:1 []", "pid 1 [tid 9]"}, 1, 1, 0},
		{"fleetprof markers skipped",
			doc(m(marker, -1, "process_name", SkipProcess), m(marker, 1, "thread_name", "idle removed"), m(1, -1, "process_name", "/host:CPU"),
				x(marker, 1, "5"), x(1, 9, "10"), x(marker, 1, "50")),
			[]string{"/host:CPU [tid 9]"}, 1, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c capturetest.Recorder
			st, err := Walk(context.Background(), strings.NewReader(tt.in), &c, WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.PlaneNames(); strings.Join(got, ";") != strings.Join(tt.planes, ";") {
				t.Errorf("planes = %q, want %q", got, tt.planes)
			}
			if len(c.Events) != tt.events || st.LateMetadata != tt.late || st.Skipped != tt.skipped {
				t.Errorf("events %d, late %d, skipped %d; want %d, %d, %d", len(c.Events), st.LateMetadata, st.Skipped, tt.events, tt.late, tt.skipped)
			}
			if c.BaseNS != 10_000 {
				t.Errorf("base = %d ns, want 10000 (the first non-skipped X event)", c.BaseNS)
			}
		})
	}
}

// TestWalkArrayFormat reads the JSON Array Format: a bare array of events.
func TestWalkArrayFormat(t *testing.T) {
	var c capturetest.Recorder
	st, err := Walk(context.Background(), strings.NewReader(` [{"ph":"X","ts":3.25,"dur":1,"name":"a"},{"ph":"B","ts":4}] `), &c, WalkOptions{})
	if err != nil || st.X != 1 || st.Phases["B"] != 1 || len(c.Events) != 1 || c.Events[0].Start != 250000 {
		t.Errorf("Walk(array format) = %+v, %v, events %+v", st, err, c.Events)
	}
}

// TestWalkArrayFormatOpenEnded: the Trace Event Format makes the array
// form's closing bracket optional (a tracer may stop writing after any
// event); a cut inside an event is still a truncated file.
func TestWalkArrayFormatOpenEnded(t *testing.T) {
	const evs = `[{"ph":"X","ts":3.25,"dur":1,"name":"a"},` + "\n" + `{"ph":"X","ts":5,"dur":1,"name":"b"}`
	for _, in := range []string{evs, evs + ",", evs + ",\n  ", evs + "]"} {
		for _, size := range []int{0, 16} {
			var c capturetest.Recorder
			st, err := Walk(context.Background(), strings.NewReader(in), &c, WalkOptions{BufferSize: size})
			if err != nil || st.X != 2 || len(c.Events) != 2 || !st.Complete {
				t.Errorf("Walk(%q, buffer %d) = %+v, %v; want 2 events, complete", in, size, st, err)
			}
		}
	}
	for _, in := range []string{`[{"ph":"X","ts":3`, `[{"ph":"X","ts":3.25,"dur":1,"name":"a"}` + `,{"ph"`} {
		var se *SyntaxError
		if _, err := Walk(context.Background(), strings.NewReader(in), &capturetest.Recorder{}, WalkOptions{}); !errors.As(err, &se) || !se.Truncated {
			t.Errorf("Walk(%q) = %v, want a truncation error", in, err)
		}
	}
	// The object form's array still needs its bracket.
	if _, err := Walk(context.Background(), strings.NewReader(`{"traceEvents":`+evs), &capturetest.Recorder{}, WalkOptions{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Walk(object form, unclosed) = %v, want ErrMalformed", err)
	}
}

// TestWalkByteOrderMark skips a UTF-8 byte order mark at the start, and
// the events' byte ranges still count it.
func TestWalkByteOrderMark(t *testing.T) {
	for _, in := range []string{"\ufeff" + `{"traceEvents":[{"ph":"X","ts":3,"dur":1,"name":"a"}]}`, "\ufeff" + ` [{"ph":"X","ts":3,"dur":1,"name":"a"}]`} {
		for _, size := range []int{0, 2} {
			var c capturetest.Recorder
			st, err := Walk(context.Background(), strings.NewReader(in), &c, WalkOptions{BufferSize: size})
			if err != nil || st.X != 1 || len(c.Events) != 1 {
				t.Fatalf("Walk(%q, buffer %d) = %+v, %v; want 1 event", in, size, st, err)
			}
			if ref := c.Events[0].Ref; in[ref.Off] != '{' || in[ref.Off+ref.Len-1] != '}' {
				t.Errorf("Walk(%q): the event's range %+v is %q", in, ref, in[ref.Off:ref.Off+ref.Len])
			}
		}
	}
	// A lone first byte of a mark is no mark.
	if _, err := Walk(context.Background(), strings.NewReader("\xef{}"), &capturetest.Recorder{}, WalkOptions{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Walk(0xef then {}) = %v, want ErrMalformed", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func join(s []string) string { return strings.Join(s, ",") }

// TestWalkGolden records what Walk and Load make of the tiny fixture:
// planes, lines, event counts and the first events of each line in full.
func TestWalkGolden(t *testing.T) {
	data := fixtures.ReadFile(t, filepath.Join(fixtures.Dir(t), "tiny", "tiny-host.trace.json"))
	var c capturetest.Recorder
	st, err := Walk(context.Background(), bytes.NewReader(data), &c, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ld := NewLoader(bytes.NewReader(data))
	var out strings.Builder
	fmt.Fprintf(&out, "base_ns %d\nevents %d x %d phases %v late %d bytes %d complete %v\n",
		c.BaseNS, st.Events, st.X, st.Phases, st.LateMetadata, st.Bytes, st.Complete)
	type key struct{ plane, line int }
	count := map[key]int{}
	for _, e := range c.Events {
		count[key{e.Plane, e.Line}]++
	}
	for pi, p := range c.Planes {
		fmt.Fprintf(&out, "plane %d id %d %q\n", pi, p.ID, p.Name)
		for li, l := range c.Lines[pi] {
			fmt.Fprintf(&out, "  line %d id %d display %d %q: %d events\n", li, l.ID, l.DisplayID, l.Name, count[key{pi, li}])
			shown := 0
			for _, e := range c.Events {
				if e.Plane != pi || e.Line != li || shown == 3 {
					continue
				}
				shown++
				var ev capture.Event
				if err := ld.Load(e.Ref, &ev); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "    %q start %d dur %d ref %d+%d display %q\n", ev.Name, e.Start, e.Dur, e.Ref.Off, e.Ref.Len, ev.DisplayName)
				for _, s := range ev.Stats {
					fmt.Fprintf(&out, "      %s = %q\n", s.Name, s.Str)
				}
			}
		}
	}
	golden.Check(t, filepath.Join("testdata", "tiny.golden.txt"), []byte(out.String()), *update)
}

func TestWalkReadError(t *testing.T) {
	r := iotest.TimeoutReader(strings.NewReader(sample))
	_, err := Walk(context.Background(), r, &capturetest.Recorder{}, WalkOptions{BufferSize: 32})
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("Walk(failing reader) = %v, want iotest.ErrTimeout", err)
	}
}

// stopper fails on its second event.
type stopper struct {
	capturetest.Recorder
	err error
}

func (s *stopper) Event(e *capture.RawEvent) error {
	if len(s.Events) == 1 {
		return s.err
	}
	return s.Recorder.Event(e)
}

func TestWalkVisitorError(t *testing.T) {
	v := &stopper{err: errors.New("visitor: full")}
	st, err := Walk(context.Background(), strings.NewReader(sample), v, WalkOptions{})
	if err != v.err || st.Complete {
		t.Errorf("Walk(failing visitor) = %+v, %v; want the visitor's error as is", st, err)
	}
}
