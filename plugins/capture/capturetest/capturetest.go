// Package capturetest holds what the tests of the capture readers
// (plugins/sdk/capture/xplane, tracejson) and writers (plugins/capture/xplanew,
// tracejsonw) share: a Visitor that records everything a Walk tells it, and a
// walk that loads every event back, exactly, for comparing two readings of
// the same events; and captures built to be costly, which the collector's
// and the end-to-end tests send.
package capturetest

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// OpenFile opens path for the rest of the test and returns it with its
// size, what a reader's Open takes.
func OpenFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fh, st.Size()
}

// Recorder is a capture.Visitor that keeps everything it is told.
type Recorder struct {
	BaseNS int64 // the last Base
	Bases  int   // how many times Base was called
	Planes []capture.PlaneInfo
	Lines  [][]capture.LineInfo // each plane's lines, by plane index
	Events []Event
}

// Event is an event as Walk hands it over.
type Event struct {
	Plane, Line int
	Name        string
	Start, Dur  int64
	Ref         capture.Ref
}

// Base implements capture.Visitor.
func (r *Recorder) Base(ns int64) { r.BaseNS = ns; r.Bases++ }

// Plane implements capture.Visitor.
func (r *Recorder) Plane(p capture.PlaneInfo) int {
	r.Planes = append(r.Planes, p)
	r.Lines = append(r.Lines, nil)
	return len(r.Planes) - 1
}

// Line implements capture.Visitor.
func (r *Recorder) Line(plane int, l capture.LineInfo) int {
	r.Lines[plane] = append(r.Lines[plane], l)
	return len(r.Lines[plane]) - 1
}

// Event implements capture.Visitor.
func (r *Recorder) Event(e *capture.RawEvent) error {
	r.Events = append(r.Events, Event{e.Plane, e.Line, string(e.Name), e.Start, e.Dur, e.Ref})
	return nil
}

// PlaneNames lists the planes recorded, each with its lines:
// "name [line1,line2]".
func (r *Recorder) PlaneNames() []string {
	var out []string
	for i, p := range r.Planes {
		var ls []string
		for _, l := range r.Lines[i] {
			ls = append(ls, l.Name)
		}
		out = append(out, p.Name+" ["+strings.Join(ls, ",")+"]")
	}
	return out
}

// SessionRecorder is a Recorder that also takes the profiling session, as a
// reader offers it to a Visitor with a Session method.
type SessionRecorder struct {
	Recorder
	Sessions []capture.Interval
}

// Session records a session.
func (r *SessionRecorder) Session(start, end int64) {
	r.Sessions = append(r.Sessions, capture.Interval{Start: start, End: end})
}

// Loaded is an event as Walk and Load see it, in absolute picoseconds split
// as (ns, ps past it) to stay exact.
type Loaded struct {
	Plane, Line string
	Name        string
	DisplayName string
	StartNS     int64
	StartPS     int64
	Dur         int64
	Stats       []capture.Stat
}

// File is a capture file that walks its events and loads one by its Ref
// (*xplane.File).
type File interface {
	Walk(ctx context.Context, v capture.Visitor) error
	Load(ref capture.Ref, ev *capture.Event) error
}

// WalkLoad walks f and loads every event; a Load whose name differs from
// Walk's fails the test.
func WalkLoad(t testing.TB, f File) (*Recorder, []Loaded) {
	t.Helper()
	r := &Recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	out := make([]Loaded, len(r.Events))
	for i, e := range r.Events {
		var ev capture.Event
		if err := f.Load(e.Ref, &ev); err != nil {
			t.Fatalf("Load(event %d, %+v): %v", i, e.Ref, err)
		}
		if ev.Name != e.Name {
			t.Fatalf("event %d: Load name %q, Walk name %q", i, ev.Name, e.Name)
		}
		ns, ps := SplitPS(r.BaseNS, e.Start)
		out[i] = Loaded{
			Plane: r.Planes[e.Plane].Name, Line: r.Lines[e.Plane][e.Line].Name,
			Name: ev.Name, DisplayName: ev.DisplayName,
			StartNS: ns, StartPS: ps, Dur: e.Dur, Stats: ev.Stats,
		}
	}
	return r, out
}

// SplitPS returns base ns + rel ps as whole ns and the ps past them.
func SplitPS(baseNS, rel int64) (ns, ps int64) {
	ns, ps = rel/1000, rel%1000
	if ps < 0 {
		ps += 1000
		ns--
	}
	return baseNS + ns, ps
}

// FirstDiff returns the index of the first differing event of two lists of
// the same length, or -1. It is a fast equality for long lists (nil and
// empty stats and bytes are equal); cmp.Diff explains a difference.
func FirstDiff(a, b []Loaded) int {
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Plane != y.Plane || x.Line != y.Line || x.Name != y.Name || x.DisplayName != y.DisplayName ||
			x.StartNS != y.StartNS || x.StartPS != y.StartPS || x.Dur != y.Dur || len(x.Stats) != len(y.Stats) {
			return i
		}
		for j := range x.Stats {
			s, u := &x.Stats[j], &y.Stats[j]
			if s.Name != u.Name || s.Kind != u.Kind || s.Str != u.Str || s.Int != u.Int || s.Uint != u.Uint ||
				math.Float64bits(s.Double) != math.Float64bits(u.Double) || !bytes.Equal(s.Bytes, u.Bytes) {
				return i
			}
		}
	}
	return -1
}
