package tracejsonw

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// idsCapture has planes that share id 0 (as real JAX GPU files do), a plane
// whose converter pid would be the marker's, and lines with 64-bit,
// negative, shared and zero ids.
func idsCapture() *capture.Capture {
	ev := func(name string, start int64) []capture.Event {
		return []capture.Event{{Name: name, Start: start, Dur: 1_000_000}}
	}
	return &capture.Capture{
		BaseNS: 1_771_595_650_217_823_548,
		Span:   capture.Interval{Start: 0, End: 10 * capture.Millisecond},
		Planes: []*capture.Plane{
			{ID: 0, Name: "/host:metadata"},
			{ID: 0, Name: "/device:GPU:0", Lines: []*capture.Line{
				{ID: 16, DisplayID: 16, Name: "Stream #16(Kernel)", Events: ev("k16", 0)},
				{ID: 17, DisplayID: 16, Name: "Stream #17(Kernel)", Events: ev("k17", 1)},
			}},
			{ID: 1, Name: "/device:GPU:1", Lines: []*capture.Line{
				{ID: -1, DisplayID: -1, Name: "GPU annotations", Events: ev("a", 2)},
				{ID: 0, DisplayID: 0, Name: "zero", Events: ev("z", 3)},
			}},
			{ID: 0, Name: capture.HostPlaneName, Lines: []*capture.Line{
				{ID: 879904895758363866, DisplayID: 879904895758363866, Name: "py_xla_callback/879904895758363866", Events: ev("cb", 4)},
				{ID: 1085180131661504713, DisplayID: 1085180131661504713, Name: "python", Events: ev("py", 5)},
				{ID: math.MinInt64, Name: "min"},
				{ID: 1, DisplayID: 1, Name: "one", Events: ev("o", 6)},
			}},
			{ID: MarkerPID - 1, Name: "/device:GPU:7", Lines: []*capture.Line{{ID: 3, DisplayID: 3, Name: "XLA Ops", Events: ev("op", 7)}}},
			{ID: -5, Name: "negative"},
			{ID: 0, Name: "Task Environment"},
		},
	}
}

// traceDoc is the trace JSON as encoding/json sees it.
type traceDoc struct {
	TraceEvents []struct {
		Ph   string          `json:"ph"`
		Pid  json.RawMessage `json:"pid"`
		Tid  json.RawMessage `json:"tid"`
		Name string          `json:"name"`
		Cat  string          `json:"cat"`
		Ts   json.Number     `json:"ts"`
		Dur  json.Number     `json:"dur"`
		Args map[string]any  `json:"args"`
	} `json:"traceEvents"`
}

func decodeDoc(t *testing.T, b []byte) traceDoc {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc traceDoc
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return doc
}

func TestWriteIDs(t *testing.T) {
	c := idsCapture()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	doc := decodeDoc(t, buf.Bytes())

	// Every pid and tid is a 32-bit integer; M events come first; every
	// process and thread that has X events is named.
	procs := map[int64]string{}
	threads := map[[2]int64]string{}
	seenX := false
	for i, e := range doc.TraceEvents {
		if e.Ph == "" {
			continue
		}
		var pid, tid int64
		if err := json.Unmarshal(e.Pid, &pid); err != nil || pid <= 0 || pid > math.MaxInt32 {
			t.Fatalf("event %d: pid %s is not a positive 32-bit integer", i, e.Pid)
		}
		if e.Tid != nil {
			if err := json.Unmarshal(e.Tid, &tid); err != nil || tid < 0 || tid > math.MaxInt32 {
				t.Fatalf("event %d: tid %s is not a 32-bit integer", i, e.Tid)
			}
		}
		switch {
		case e.Ph == "M" && seenX:
			t.Errorf("event %d: M event after an X event", i)
		case e.Ph == "M" && e.Name == "process_name":
			if old, dup := procs[pid]; dup {
				t.Errorf("pid %d names two processes: %q and %v", pid, old, e.Args["name"])
			}
			procs[pid] = fmt.Sprint(e.Args["name"])
		case e.Ph == "M" && e.Name == "thread_name":
			k := [2]int64{pid, tid}
			if old, dup := threads[k]; dup {
				t.Errorf("pid %d tid %d names two threads: %q and %v", pid, tid, old, e.Args["name"])
			}
			threads[k] = fmt.Sprint(e.Args["name"])
		case e.Ph == "X":
			seenX = true
			if _, ok := threads[[2]int64{pid, tid}]; !ok {
				t.Errorf("X event %q on pid %d tid %d, which no thread_name names", e.Name, pid, tid)
			}
		}
	}
	wantPIDs := map[string]int64{"/device:GPU:0": 1, "/device:GPU:1": 2, capture.HostPlaneName: HostPID}
	for pid, name := range procs {
		if want, ok := wantPIDs[name]; ok && pid != want {
			t.Errorf("%s has pid %d, want the converter's %d", name, pid, want)
		}
	}
	if len(procs) != len(c.Planes)+1 {
		t.Errorf("%d processes named, want %d planes and the marker", len(procs), len(c.Planes))
	}

	// Walk reads back every plane and line, in order, with their events.
	var got capturetest.Recorder
	if _, err := tracejson.Walk(context.Background(), bytes.NewReader(buf.Bytes()), &got, tracejson.WalkOptions{}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	type placed struct{ Plane, Line, Event string }
	var gotNames, wantNames []string
	var gotEvents, wantEvents []placed
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			wantNames = append(wantNames, p.Name+" / "+l.Name)
			for _, e := range l.Events {
				wantEvents = append(wantEvents, placed{p.Name, l.Name, e.Name})
			}
		}
		if len(p.Lines) == 0 {
			wantNames = append(wantNames, p.Name)
		}
	}
	for i, p := range got.Planes {
		for _, l := range got.Lines[i] {
			gotNames = append(gotNames, p.Name+" / "+l.Name)
		}
		if len(got.Lines[i]) == 0 {
			gotNames = append(gotNames, p.Name)
		}
	}
	for _, e := range got.Events {
		gotEvents = append(gotEvents, placed{got.Planes[e.Plane].Name, got.Lines[e.Plane][e.Line].Name, e.Name})
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("planes and lines read back (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
		t.Errorf("events read back (-want +got):\n%s", diff)
	}
}

func TestAssignIDs(t *testing.T) {
	c := idsCapture()
	pids, tids := assignIDs(c)
	want := []int64{3, 1, 2, HostPID, 4, 5, 6}
	if !cmp.Equal(pids, want) {
		t.Errorf("pids = %v, want %v", pids, want)
	}
	wantTIDs := [][]int64{{}, {16, 1}, {1, 0}, {2, 3, 4, 1}, {3}, {}, {}}
	if diff := cmp.Diff(wantTIDs, tids); diff != "" {
		t.Errorf("tids (-want +got):\n%s", diff)
	}
}

func TestWriteSession(t *testing.T) {
	tests := []struct {
		name    string
		session capture.Interval
		want    bool
	}{
		{"session", capture.Interval{Start: -3 * capture.Millisecond, End: 950*capture.Millisecond + 7}, true},
		{"none", capture.Interval{}, false},
		{"before 1970", capture.Interval{Start: -1_770_323_795_654_017*capture.Nanosecond - capture.Microsecond, End: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleCapture()
			c.Session = tt.session
			var buf bytes.Buffer
			if err := Write(&buf, c); err != nil {
				t.Fatal(err)
			}
			doc := decodeDoc(t, buf.Bytes())
			var sess []string
			for _, e := range doc.TraceEvents {
				if e.Ph == "X" && e.Cat == SessionCat {
					sess = append(sess, fmt.Sprintf("%s %s %s+%s", e.Pid, e.Name, e.Ts, e.Dur))
				}
			}
			var want []string
			if tt.want {
				us, ps := c.AbsPS(tt.session.Start)
				want = []string{fmt.Sprintf("%d %s %s+%s", MarkerPID, SessionName,
					appendMicros(nil, us, ps), appendMicros(nil, tt.session.Len()/capture.Microsecond, tt.session.Len()%capture.Microsecond))}
			}
			if diff := cmp.Diff(want, sess); diff != "" {
				t.Errorf("session events (-want +got):\n%s", diff)
			}

			// Read back: the session (at the same absolute time), the same
			// events on the same planes, and no marker among them.
			var got capturetest.SessionRecorder
			if _, err := tracejson.Walk(context.Background(), bytes.NewReader(buf.Bytes()), &got, tracejson.WalkOptions{}); err != nil {
				t.Fatalf("Walk: %v", err)
			}
			var gotSess []capture.Interval
			for _, s := range got.Sessions {
				shift := (got.BaseNS - c.BaseNS) * capture.Nanosecond
				gotSess = append(gotSess, capture.Interval{Start: s.Start + shift, End: s.End + shift})
			}
			var wantSess []capture.Interval
			if tt.want {
				wantSess = []capture.Interval{tt.session}
			}
			if diff := cmp.Diff(wantSess, gotSess); diff != "" {
				t.Errorf("session read back (-want +got):\n%s", diff)
			}
			if n := int(c.EventsKept()); len(got.Events) != n {
				t.Errorf("read back %d events, want %d", len(got.Events), n)
			}
			if names := got.PlaneNames(); len(names) != 2 || names[1] != "/host:CPU [python3,worker]" {
				t.Errorf("planes read back = %q", names)
			}
		})
	}
}

func TestWriteCat(t *testing.T) {
	c := &capture.Capture{
		BaseNS: 1_623_142_623_460_016_000,
		Span:   capture.Interval{Start: 0, End: capture.Millisecond},
		Planes: []*capture.Plane{
			{ID: 0, Name: "/device:GPU:0", Lines: []*capture.Line{{ID: 7, DisplayID: 7, Name: "Stream #7", Events: []capture.Event{
				{Name: "volta_sgemm", Start: 5, Dur: 1000, Stats: []capture.Stat{
					{Name: ops.CatStat, Kind: capture.StatString, Str: "kernel"},
					{Name: "device", Kind: capture.StatString, Str: "0"},
					{Name: "stream", Kind: capture.StatString, Str: "7"},
				}},
			}}}},
		},
	}
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	doc := decodeDoc(t, buf.Bytes())
	var x []string
	for _, e := range doc.TraceEvents {
		if e.Ph == "X" {
			_, inArgs := e.Args[ops.CatStat]
			x = append(x, fmt.Sprintf("%s cat=%q cat-in-args=%v", e.Name, e.Cat, inArgs))
		}
	}
	if want := []string{`volta_sgemm cat="kernel" cat-in-args=false`}; !cmp.Equal(x, want) {
		t.Errorf("X events = %q, want %q", x, want)
	}
	var got capturetest.Recorder
	if _, err := tracejson.Walk(context.Background(), bytes.NewReader(buf.Bytes()), &got, tracejson.WalkOptions{}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if len(got.Events) != 1 {
		t.Fatalf("read back %d events, want 1", len(got.Events))
	}
	var ev capture.Event
	if err := tracejson.NewLoader(bytes.NewReader(buf.Bytes())).Load(got.Events[0].Ref, &ev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.Planes[0].Lines[0].Events[0].Stats, ev.Stats); diff != "" {
		t.Errorf("stats read back (-want +got):\n%s", diff)
	}
	if e := got.Events[0]; got.Planes[e.Plane].Name != "/device:GPU:0" || got.Lines[e.Plane][e.Line].Name != "Stream #7" {
		t.Errorf("read back on %q %q, want /device:GPU:0 Stream #7", got.Planes[e.Plane].Name, got.Lines[e.Plane][e.Line].Name)
	}
}
