package tracejson

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// sample is a small trace that uses every construct Walk meets: keys in an
// odd order, skipped values with nested objects, arrays, escapes, literals
// and numbers, M events, other phases, X events with and without args.
const sample = `{"otherData":{"a":[1,-2.5e3,true,false,null,{"b":"}]\"{["}],"c":"\\\"\u00e9"},` +
	`"traceEvents":[` +
	`{"ph":"M","pid":1,"name":"process_name","args":{"name":"/device:TPU:0"}},` +
	`{"name":"thread_name","ph":"M","tid":3,"pid":1,"args":{"name":"XLA Ops"}},` +
	`{"ph":"X","pid":1,"tid":3,"ts":1770323795754.017629,"dur":0.276250,"name":"fusion.3","args":{"hlo_category":"non-fusion elementwise","long_name":"%fusion.3 = ...","n":12,"o":{"p":[1,2]},"t":true}},` +
	` { "args" : { } , "dur" : 7.5 , "name" : "a\"b\\c\u00e9\ud83d\ude00" , "ts" : "1770323795754.5" , "tid" : 102 , "pid" : 701 , "ph" : "X" } ,` +
	`{"ph":"i","pid":701,"tid":102,"ts":1770323795755,"name":"instant","s":"t"},` +
	`{"ph":"C","pid":701,"ts":1770323795756,"name":"counter","args":{"v":1}},` +
	`{"ph":"X","pid":701,"tid":102,"ts":1.770323795754e12,"name":"no dur"},` +
	`{}],` +
	"\n\"displayTimeUnit\":\"ns\",\"metadata\":{\"highres-ticks\":true,\"x\":[[[]]]}}"

func TestWalkSample(t *testing.T) {
	var c capturetest.Recorder
	st, err := Walk(context.Background(), strings.NewReader(sample), &c, WalkOptions{})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	wantPhases := map[string]int64{"M": 2, "X": 3, "i": 1, "C": 1}
	if st.Events != 8 || st.X != 3 || st.Bytes != int64(len(sample)) || !st.Complete || !equalPhases(st.Phases, wantPhases) {
		t.Errorf("Stats = %+v, want 8 events, 3 X, %d bytes, complete, phases %v", st, len(sample), wantPhases)
	}
	if c.BaseNS != 1770323795754_000 {
		t.Errorf("base = %d ns, want 1770323795754000", c.BaseNS)
	}
	wantPlanes := []string{"/device:TPU:0 [XLA Ops]", "pid 701 [tid 102]"}
	if got := c.PlaneNames(); strings.Join(got, ";") != strings.Join(wantPlanes, ";") {
		t.Errorf("planes = %q, want %q", got, wantPlanes)
	}
	if c.Planes[0].ID != 0 || c.Planes[1].ID != 700 || c.Lines[0][0].DisplayID != 3 {
		t.Errorf("plane ids %d, %d, line display id %d; want 0, 700, 3", c.Planes[0].ID, c.Planes[1].ID, c.Lines[0][0].DisplayID)
	}
	want := []capturetest.Event{
		{Plane: 0, Line: 0, Name: "fusion.3", Start: 17629, Dur: 276250},
		{Plane: 1, Line: 0, Name: "a\"b\\c\u00e9\U0001F600", Start: 500000, Dur: 7500000},
		{Plane: 1, Line: 0, Name: "no dur"},
	}
	for i := range want {
		got := c.Events[i]
		got.Ref = capture.Ref{}
		if got != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got, want[i])
		}
		r := c.Events[i].Ref
		if ev := sample[r.Off : r.Off+r.Len]; ev[0] != '{' || ev[len(ev)-1] != '}' {
			t.Errorf("event %d ref %+v holds %q", i, r, ev)
		}
	}
}

func equalPhases(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestWalkErrors(t *testing.T) {
	deep := `{"traceEvents":[{"ph":"X","args":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}]}`
	deepTop := `{"metadata":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `,"traceEvents":[]}`
	x := func(fields string) string { return `{"traceEvents":[{"ph":"X","pid":1,"tid":1,` + fields + `},{}]}` }
	tests := []struct {
		name, in string
		want     error
		what     string // part of the message
		event    int    // SyntaxError.Event, when the error is one
	}{
		{"empty", "", ErrEmpty, "empty", 0},
		{"whitespace", " \n\t\r ", ErrEmpty, "empty", 0},
		{"not json", "hello", ErrMalformed, "expected '{'", -1},
		{"no traceEvents", `{"displayTimeUnit":"ns"}`, ErrNoTraceEvents, "traceEvents", 0},
		{"empty object", `{}`, ErrNoTraceEvents, "traceEvents", 0},
		{"traceEvents not array", `{"traceEvents":{}}`, ErrNoTraceEvents, "not an array", -1},
		{"unterminated string", `{"traceEvents":[{"ph":"X","name":"abc}]}`, ErrMalformed, "truncated", 0},
		{"unterminated key", `{"traceEv`, ErrMalformed, "truncated", -1},
		{"bad token", `{"traceEvents":[{"ph":"X","pid":tru}]}`, ErrMalformed, "bad literal", 0},
		{"missing colon", `{"traceEvents":[{"ph" "X"}]}`, ErrMalformed, "expected ':'", 0},
		{"missing comma", `{"traceEvents":[{"ph":"X" "pid":1}]}`, ErrMalformed, "expected ',' or '}'", 0},
		{"trailing comma", `{"traceEvents":[{},]}`, ErrMalformed, "expected an event object", 1},
		{"mismatched bracket", `{"metadata":{"a":[}],"traceEvents":[]}`, ErrMalformed, "mismatched", -1},
		{"not an object", `{"traceEvents":[1]}`, ErrMalformed, "expected an event object", 0},
		{"data after", `{"traceEvents":[]} x`, ErrMalformed, "data after", -1},
		{"deep args", deep, ErrTooDeep, "deeper than 64", 0},
		{"deep top", deepTop, ErrTooDeep, "deeper than 64", -1},
		{"negative dur", x(`"ts":1,"dur":-1.5`), ErrBadTime, "negative", 0},
		{"negative ts", x(`"ts":-1`), ErrBadTime, "negative", 0},
		{"NaN", x(`"ts":NaN`), ErrBadTime, "not a number", 0},
		{"NaN string", x(`"ts":"NaN"`), ErrBadTime, "not a number", 0},
		{"Infinity dur", x(`"ts":1,"dur":Infinity`), ErrBadTime, "not a number", 0},
		{"missing ts", x(`"dur":1`), ErrBadTime, "without ts", 0},
		{"null ts", x(`"ts":null`), ErrBadTime, "not a number", 0},
		{"bool dur", x(`"ts":1,"dur":true`), ErrBadTime, "not a number", 0},
		{"escaped ts", x(`"ts":"\u0031"`), ErrBadTime, "escapes", 0},
		{"far ts", `{"traceEvents":[{"ph":"X","ts":1},{"ph":"X","ts":9000000000000000}]}`, ErrBadTime, "more than", 1},
		{"long dur", x(`"ts":1,"dur":5000000000000`), ErrBadTime, "longer than", 0},
		{"pid not int", x(`"pid":1.5,"ts":1`), ErrMalformed, "not an integer", 0},
		{"bad escape in name", x(`"ts":1,"name":"\x"`), ErrMalformed, "bad escape", 0},
		{"bad escape in args", x(`"ts":1,"args":{"":"\0"}`), ErrMalformed, "bad escape", 0},
		{"bad escape in a key", x(`"ts":1,"args":{"\u12G4":1}`), ErrMalformed, "bad escape", 0},
		{"bad escape in an event key", x(`"t\s":1`), ErrMalformed, "bad escape", 0},
		{"bad escape in metadata", `{"metadata":{"a":"\x"},"traceEvents":[]}`, ErrMalformed, "bad escape", -1},
		{"bad unicode escape in metadata", `{"metadata":"\u00G0","traceEvents":[]}`, ErrMalformed, `bad \u escape`, -1},
		{"bad escape in a top key", `{"trace\Events":[]}`, ErrMalformed, "bad escape", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Walk(context.Background(), strings.NewReader(tt.in), &capturetest.Recorder{}, WalkOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Walk(%.60q) = %v, want %v", tt.in, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.what) || !strings.HasPrefix(err.Error(), "tracejson: ") {
				t.Errorf("Walk(%.60q) = %q, want a message with %q", tt.in, err, tt.what)
			}
			var se *SyntaxError
			if errors.As(err, &se) {
				if se.Event != tt.event {
					t.Errorf("Walk(%.60q): SyntaxError.Event = %d, want %d", tt.in, se.Event, tt.event)
				}
				if se.Off < 0 || se.Off > int64(len(tt.in)) {
					t.Errorf("Walk(%.60q): SyntaxError.Off = %d, outside the input", tt.in, se.Off)
				}
			}
		})
	}
}

func TestWalkTooLarge(t *testing.T) {
	in := `{"traceEvents":[{"ph":"X","ts":1,"name":"` + strings.Repeat("x", 5000) + `"}]}`
	_, err := Walk(context.Background(), strings.NewReader(in), &capturetest.Recorder{}, WalkOptions{BufferSize: 64, MaxEventBytes: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Walk(5000-byte event, MaxEventBytes 1000) = %v, want ErrTooLarge", err)
	}
	// A big value outside traceEvents is skipped block by block.
	in = `{"metadata":"` + strings.Repeat("y", 5000) + `","traceEvents":[{"ph":"X","ts":1}]}`
	st, err := Walk(context.Background(), strings.NewReader(in), &capturetest.Recorder{}, WalkOptions{BufferSize: 64, MaxEventBytes: 1000})
	if err != nil || st.X != 1 {
		t.Errorf("Walk(5000-byte metadata, MaxEventBytes 1000) = %+v, %v; want 1 event", st, err)
	}
}

// TestWalkTruncated cuts a trace at every offset: each cut must fail with a
// truncation error, never panic and never succeed.
func TestWalkTruncated(t *testing.T) {
	check := func(t *testing.T, doc []byte, step int) {
		for n := 0; n < len(doc); n += step {
			for _, size := range []int{0, 16} {
				st, err := Walk(context.Background(), bytes.NewReader(doc[:n]), &capturetest.Recorder{}, WalkOptions{BufferSize: size})
				if n == 0 {
					if !errors.Is(err, ErrEmpty) {
						t.Fatalf("Walk(0 bytes) = %v, want ErrEmpty", err)
					}
					continue
				}
				var se *SyntaxError
				if !errors.As(err, &se) || !se.Truncated || !errors.Is(err, ErrMalformed) || se.Off != int64(n) {
					t.Fatalf("Walk(first %d of %d bytes) = %+v, %v; want a truncation error at byte %d", n, len(doc), st, err, n)
				}
				if !strings.Contains(err.Error(), "unexpected end of input at byte") || !strings.Contains(err.Error(), "truncated") {
					t.Fatalf("Walk(first %d bytes) = %q, want it to say the file is truncated", n, err)
				}
			}
		}
	}
	t.Run("sample", func(t *testing.T) { check(t, []byte(sample), 1) })
	t.Run("tiny", func(t *testing.T) {
		doc := fixtures.ReadFile(t, filepath.Join(fixtures.Dir(t), "tiny", "tiny-host.trace.json"))
		check(t, doc, 499)
	})
}

func TestWalkAllowTruncated(t *testing.T) {
	cut := strings.Index(sample, `{"ph":"i"`) + 5
	var c capturetest.Recorder
	st, err := Walk(context.Background(), strings.NewReader(sample[:cut]), &c, WalkOptions{AllowTruncated: true})
	if err != nil || st.Complete || st.X != 2 || len(c.Events) != 2 {
		t.Errorf("Walk(truncated, AllowTruncated) = %+v, %v; want 2 events, not complete, no error", st, err)
	}
	// Truncated before traceEvents: still an error.
	if _, err := Walk(context.Background(), strings.NewReader(`{"metadata":{`), &c, WalkOptions{AllowTruncated: true}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Walk(truncated before traceEvents, AllowTruncated) = %v, want ErrMalformed", err)
	}
}
