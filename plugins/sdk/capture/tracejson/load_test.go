package tracejson

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/google/go-cmp/cmp"
)

func TestLoad(t *testing.T) {
	var c capturetest.Recorder
	if _, err := Walk(context.Background(), strings.NewReader(sample), &c, WalkOptions{}); err != nil {
		t.Fatal(err)
	}
	str := func(name, v string) capture.Stat { return capture.Stat{Name: name, Kind: capture.StatString, Str: v} }
	want := []capture.Event{
		{Name: "fusion.3", DisplayName: "%fusion.3 = ...", Stats: []capture.Stat{
			str("hlo_category", "non-fusion elementwise"),
			str("long_name", "%fusion.3 = ..."),
			str("n", "12"),
			str("o", `{"p":[1,2]}`),
			str("t", "true"),
		}},
		{Name: "a\"b\\c\u00e9\U0001F600"},
		{Name: "no dur"},
	}
	ld := NewLoader(strings.NewReader(sample))
	for i, e := range c.Events {
		got := capture.Event{Start: 7, Dur: 9}
		if err := ld.Load(e.Ref, &got); err != nil {
			t.Fatalf("Load(event %d) = %v", i, err)
		}
		want[i].Start, want[i].Dur = 7, 9
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Errorf("Load(event %d) mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestLoadEscapes(t *testing.T) {
	ev := `{"name":"n","args":{"k\u00e9y":"v\n\"\u2028","num":-1.5e-3,"nul":null,"arr":[1, "a"],"lone":"\ud800x"}}`
	var got capture.Event
	if err := NewLoader(strings.NewReader(ev)).Load(capture.Ref{Off: 0, Len: int64(len(ev))}, &got); err != nil {
		t.Fatal(err)
	}
	str := func(name, v string) capture.Stat { return capture.Stat{Name: name, Kind: capture.StatString, Str: v} }
	want := capture.Event{Name: "n", Stats: []capture.Stat{
		str("k\u00e9y", "v\n\"\u2028"), str("num", "-1.5e-3"), str("nul", "null"), str("arr", `[1, "a"]`), str("lone", "\uFFFDx"),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadBadRef(t *testing.T) {
	src := []byte(`{"traceEvents":[{"ph":"X","name":"a"},{"ph":"X","name":"b"}]}`)
	first := int64(bytes.Index(src, []byte(`{"ph`)))
	tests := []struct {
		name string
		ref  capture.Ref
		want error
	}{
		{"negative", capture.Ref{Off: -1, Len: 5}, ErrBadRef},
		{"empty", capture.Ref{Off: 0, Len: 0}, ErrBadRef},
		{"past the end", capture.Ref{Off: int64(len(src)) - 3, Len: 10}, io.ErrUnexpectedEOF},
		{"part of an event", capture.Ref{Off: first, Len: 10}, ErrBadRef},
		{"two events", capture.Ref{Off: first, Len: int64(len(src)) - first - 2}, ErrBadRef},
		{"not an event", capture.Ref{Off: 1, Len: 5}, ErrBadRef},
	}
	ld := NewLoader(bytes.NewReader(src))
	for _, tt := range tests {
		var ev capture.Event
		if err := ld.Load(tt.ref, &ev); !errors.Is(err, tt.want) {
			t.Errorf("Load(%s %+v) = %v, want %v", tt.name, tt.ref, err, tt.want)
		}
	}
}

// TestLoadMatchesWalk checks odd events where Walk and Load must agree on
// the name.
func TestLoadMatchesWalk(t *testing.T) {
	for _, ev := range []string{
		`{"ph":"X","ts":1,"name":"a","name":2}`,
		`{"ph":"X","ts":1,"name":2,"name":"b"}`,
		`{"ph":"X","ts":1,"name":"\ud800"}`,
		`{"ph":"X","ts":1}`,
	} {
		doc := `{"traceEvents":[` + ev + `]}`
		var c capturetest.Recorder
		if _, err := Walk(context.Background(), strings.NewReader(doc), &c, WalkOptions{}); err != nil {
			t.Fatalf("Walk(%s): %v", ev, err)
		}
		var got capture.Event
		if err := NewLoader(strings.NewReader(doc)).Load(c.Events[0].Ref, &got); err != nil {
			t.Fatalf("Load(%s): %v", ev, err)
		}
		if got.Name != c.Events[0].Name {
			t.Errorf("%s: Load name %q, Walk name %q", ev, got.Name, c.Events[0].Name)
		}
	}
}
