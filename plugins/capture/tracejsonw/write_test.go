package tracejsonw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/golden"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sampleCapture is a trimmed capture with two windows, odd times and every
// kind of stat.
func sampleCapture() *capture.Capture {
	const ms = capture.Millisecond
	str := func(name, v string) capture.Stat { return capture.Stat{Name: name, Kind: capture.StatString, Str: v} }
	return &capture.Capture{
		BaseNS: 1_770_323_795_654_017, // not a whole microsecond
		Span:   capture.Interval{Start: -5, End: 900 * ms},
		Windows: []capture.Interval{
			{Start: 10 * ms, End: 12 * ms},
			{Start: 400 * ms, End: 415*ms + 123_456},
		},
		Planes: []*capture.Plane{
			{ID: 0, Name: "/device:TPU:0", Lines: []*capture.Line{
				{ID: 2, DisplayID: 2, Name: "XLA Modules", Events: []capture.Event{
					{Name: "jit_jitted_run_model(1)", Start: 10 * ms, Dur: 2 * ms, Stats: []capture.Stat{str("run_id", "1000")}},
				}},
				{ID: 3, DisplayID: 3, Name: "XLA Ops", Events: []capture.Event{
					{Name: "fusion.3", DisplayName: "%fusion.3 = f32[8] fusion(...)", Start: 10*ms + 17_629, Dur: 276_250, Stats: []capture.Stat{
						str("hlo_category", "non-fusion elementwise"),
						str("tf_op", "jit(jitted_sampler)/Sampler/neg:neg"),
						{Name: "flops", Kind: capture.StatInt, Int: -12},
						{Name: "bytes_accessed", Kind: capture.StatUint, Uint: 1 << 63},
						{Name: "ratio", Kind: capture.StatDouble, Double: 0.1},
						{Name: "raw", Kind: capture.StatBytes, Bytes: []byte{0xde, 0xad}},
						str("odd", "tab\tquote\"back\\slash\x01 é \xff"),
					}},
					{Name: "copy-done.14", Start: 400*ms + 1, Dur: 5, Stats: []capture.Stat{str("long_name", "%copy-done.14 = ..."), str("run_id", "1000")}},
				}},
			}},
			{ID: 5, Name: capture.HostPlaneName, Lines: []*capture.Line{
				{ID: 1, DisplayID: 102, Name: "python3", Events: []capture.Event{
					{Name: "$threading.py:637 wait", Start: -5, Dur: 900*ms + 5},
					{Name: "$scheduler.py:645 recv_requests", Start: 11 * ms, Dur: 17_470_000},
				}},
				{ID: 7, Name: "Thread-1", DisplayName: "worker", Events: nil},
			}},
		},
	}
}

func TestWriteGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleCapture()); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("Write produced invalid JSON:\n%s", buf.Bytes())
	}
	golden.Check(t, filepath.Join("testdata", "write.golden.json"), buf.Bytes(), *update)
}

func TestWriteShape(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleCapture()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DisplayTimeUnit string          `json:"displayTimeUnit"`
		Metadata        map[string]bool `json:"metadata"`
		TraceEvents     []struct {
			Ph   string         `json:"ph"`
			Pid  int64          `json:"pid"`
			Tid  int64          `json:"tid"`
			Ts   json.Number    `json:"ts"`
			Dur  json.Number    `json:"dur"`
			Name string         `json:"name"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	d := json.NewDecoder(&buf)
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if doc.DisplayTimeUnit != "ns" || !doc.Metadata["highres-ticks"] {
		t.Errorf("displayTimeUnit %q, metadata %v", doc.DisplayTimeUnit, doc.Metadata)
	}
	evs := doc.TraceEvents
	if last := evs[len(evs)-1]; last.Ph != "" || last.Name != "" {
		t.Errorf("last event = %+v, want {}", last)
	}
	var pids []int64
	var idle []string
	for i, e := range evs {
		if e.Ph == "M" && e.Name == "process_name" {
			pids = append(pids, e.Pid)
		}
		if e.Pid == MarkerPID && e.Ph == "X" {
			t.Errorf("X event %q on the marker process", e.Name)
		}
		if e.Ph == "B" && e.Pid == MarkerPID {
			end := evs[i+1]
			if end.Ph != "E" || end.Pid != MarkerPID || end.Tid != e.Tid {
				t.Errorf("marker %q is not followed by its E event: %+v", e.Name, end)
			}
			idle = append(idle, fmt.Sprintf("%s @%s-%s", e.Name, e.Ts, end.Ts))
		}
	}
	if want := []int64{1, HostPID, MarkerPID}; !cmp.Equal(pids, want) {
		t.Errorf("process pids = %v, want %v", pids, want)
	}
	// Base 1770323795654.017 µs; span -5 ps .. 900 ms; windows 10-12 ms and
	// 400-415.123456 ms (relative).
	wantIdle := []string{
		"idle removed: 10.00 ms @1770323795654.016995-1770323805654.017000",
		"idle removed: 388.00 ms @1770323807654.017000-1770324195654.017000",
		"idle removed: 485.00 ms @1770324210654.140456-1770324695654.017000",
	}
	if !cmp.Equal(idle, wantIdle) {
		t.Errorf("idle markers:\n%s\nwant:\n%s", strings.Join(idle, "\n"), strings.Join(wantIdle, "\n"))
	}
}

// TestWriteRoundTrip writes a capture and reads it back with the SDK's
// reader (tracejson.Walk and Loader.Load):
// the same events, to the picosecond, with their stats as strings, and no
// idle markers.
func TestWriteRoundTrip(t *testing.T) {
	c := sampleCapture()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	var got capturetest.Recorder
	st, err := tracejson.Walk(context.Background(), bytes.NewReader(data), &got, tracejson.WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 0 || st.LateMetadata != 0 || st.Phases["B"] != 3 || st.Phases["E"] != 3 {
		t.Errorf("Stats = %+v, want 3 markers (B and E), none skipped, no late metadata", st)
	}
	back := &capture.Capture{BaseNS: got.BaseNS}
	ld := tracejson.NewLoader(bytes.NewReader(data))
	type flat struct {
		Plane, Line string
		Event       capture.Event
		US, PS      int64
	}
	var gotFlat, wantFlat []flat
	for _, e := range got.Events {
		ev := capture.Event{Start: e.Start, Dur: e.Dur}
		if err := ld.Load(e.Ref, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Name != e.Name {
			t.Errorf("Load name %q, Walk name %q", ev.Name, e.Name)
		}
		us, ps := back.AbsPS(e.Start)
		ev.Start = 0
		gotFlat = append(gotFlat, flat{got.Planes[e.Plane].Name, got.Lines[e.Plane][e.Line].Name, ev, us, ps})
	}
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			for _, e := range l.Events {
				us, ps := c.AbsPS(e.Start)
				want := capture.Event{Name: e.Name, Dur: e.Dur, DisplayName: e.DisplayName}
				long := false
				for _, s := range e.Stats {
					v := s.String()
					if s.Name == "long_name" {
						long = true
						want.DisplayName = v
					}
					if s.Name == "odd" {
						v = strings.ReplaceAll(v, "\xff", "\uFFFD") // invalid UTF-8 is replaced
					}
					want.Stats = append(want.Stats, capture.Stat{Name: s.Name, Kind: capture.StatString, Str: v})
				}
				if !long && e.DisplayName != "" {
					want.Stats = append(want.Stats, capture.Stat{Name: "long_name", Kind: capture.StatString, Str: e.DisplayName})
				}
				wantFlat = append(wantFlat, flat{p.Name, l.Name, want, us, ps})
			}
		}
	}
	if diff := cmp.Diff(wantFlat, gotFlat); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
	// The plane ids come back as pid-1: the host is 700.
	if got.Planes[1].ID != HostPID-1 || got.Lines[1][0].DisplayID != 102 {
		t.Errorf("host plane id %d, line display id %d; want %d, 102", got.Planes[1].ID, got.Lines[1][0].DisplayID, HostPID-1)
	}
	// The line with no events keeps its display name, declared at the end.
	if names := got.PlaneNames(); names[1] != "/host:CPU [python3,worker]" {
		t.Errorf("host plane = %q, want its lines python3 and worker", names[1])
	}
}

func TestWriteErrors(t *testing.T) {
	c := sampleCapture()
	c.Planes[0].Lines[0].Events[0].Dur = -1
	if err := Write(&bytes.Buffer{}, c); !errors.Is(err, ErrBadTime) || !strings.Contains(err.Error(), "negative duration") {
		t.Errorf("Write(negative dur) = %v, want ErrBadTime", err)
	}
	c = sampleCapture()
	c.BaseNS = 0
	c.Planes[0].Lines[0].Events[0].Start = -capture.Second
	if err := Write(&bytes.Buffer{}, c); !errors.Is(err, ErrBadTime) || !strings.Contains(err.Error(), "before 1970") {
		t.Errorf("Write(start before 1970) = %v, want ErrBadTime", err)
	}
}

func TestFormatDur(t *testing.T) {
	tests := []struct {
		ps   int64
		want string
	}{
		{0, "0.00 µs"},
		{1_500_000, "1.50 µs"},
		{capture.Millisecond, "1.00 ms"},
		{384_950 * capture.Microsecond, "384.95 ms"},
		{9_999 * capture.Millisecond, "9999.00 ms"},
		{12_345 * capture.Millisecond, "12.345 s"},
	}
	for _, tt := range tests {
		if got := formatDur(tt.ps); got != tt.want {
			t.Errorf("formatDur(%d) = %q, want %q", tt.ps, got, tt.want)
		}
	}
}

func TestAppendMicros(t *testing.T) {
	tests := []struct {
		us, ps int64
		want   string
	}{
		{0, 0, "0.000000"},
		{0, 1, "0.000001"},
		{17, 470000, "17.470000"},
		{1770323795654, 17629, "1770323795654.017629"},
		{1770323795654, 999999, "1770323795654.999999"},
	}
	for _, tt := range tests {
		if got := string(appendMicros(nil, tt.us, tt.ps)); got != tt.want {
			t.Errorf("appendMicros(%d, %d) = %q, want %q", tt.us, tt.ps, got, tt.want)
		}
	}
}
