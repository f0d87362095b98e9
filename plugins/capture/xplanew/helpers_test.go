package xplanew

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

var update = flag.Bool("update", false, "rewrite the FuzzRead seed that the SDK's xplane reader takes from Write")

// fixture is one shared capture.
type fixture struct {
	name, dir, file string
}

// captures are the shared captures the writer reads, writes and reads back.
var captures = []fixture{
	{"tiny", "tiny", "tiny-host.xplane.pb"},
	{"gpu", "real/xprof-gpu-multi-worker", "34.83.195.179_6003.xplane.pb"},
}

func (fx fixture) path(t testing.TB) string {
	return filepath.Join(fixtures.Dir(t), fx.dir, fx.file)
}

// openFile opens a file on disk with the SDK's reader.
func openFile(t testing.TB, path string) *xplane.File {
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
	f, err := xplane.Open(fh, st.Size())
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return f
}

// recorder is a Visitor that keeps everything the reader tells it.
type recorder struct {
	base   int64
	planes []capture.PlaneInfo
	lines  [][]capture.LineInfo
	events []recEvent
}

type recEvent struct {
	Plane, Line int
	Name        string
	Start, Dur  int64
	Ref         capture.Ref
}

func (r *recorder) Base(ns int64) { r.base = ns }

func (r *recorder) Plane(p capture.PlaneInfo) int {
	r.planes = append(r.planes, p)
	r.lines = append(r.lines, nil)
	return len(r.planes) - 1
}

func (r *recorder) Line(plane int, l capture.LineInfo) int {
	r.lines[plane] = append(r.lines[plane], l)
	return len(r.lines[plane]) - 1
}

func (r *recorder) Event(e *capture.RawEvent) error {
	r.events = append(r.events, recEvent{e.Plane, e.Line, string(e.Name), e.Start, e.Dur, e.Ref})
	return nil
}

// loaded is an event as Walk and Load see it, in absolute picoseconds
// split as (ns, ps past it) to stay exact.
type loaded struct {
	Plane, Line string
	Name        string
	DisplayName string
	StartNS     int64
	StartPS     int64
	Dur         int64
	Stats       []capture.Stat
}

// walkLoad walks f and loads every event.
func walkLoad(t testing.TB, f *xplane.File) (*recorder, []loaded) {
	t.Helper()
	r := &recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	out := make([]loaded, len(r.events))
	for i, e := range r.events {
		var ev capture.Event
		if err := f.Load(e.Ref, &ev); err != nil {
			t.Fatalf("Load(event %d, %+v): %v", i, e.Ref, err)
		}
		if ev.Name != e.Name {
			t.Fatalf("event %d: Load name %q, Walk name %q", i, ev.Name, e.Name)
		}
		ns, ps := splitPS(r.base, e.Start)
		out[i] = loaded{
			Plane: r.planes[e.Plane].Name, Line: r.lines[e.Plane][e.Line].Name,
			Name: ev.Name, DisplayName: ev.DisplayName,
			StartNS: ns, StartPS: ps, Dur: e.Dur, Stats: ev.Stats,
		}
	}
	return r, out
}

// walkLoadBytes opens b and walks and loads every event.
func walkLoadBytes(t *testing.T, b []byte) (*recorder, []loaded) {
	t.Helper()
	f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return walkLoad(t, f)
}

// splitPS returns base ns + rel ps as whole ns and the ps past them.
func splitPS(baseNS, rel int64) (int64, int64) {
	ns, ps := rel/1000, rel%1000
	if ps < 0 {
		ps += 1000
		ns--
	}
	return baseNS + ns, ps
}

// firstDiff returns the index of the first differing event of two lists of
// the same length, or -1. It is a fast equality for long lists (nil and
// empty stats and bytes are equal); cmp.Diff explains a difference.
func firstDiff(a, b []loaded) int {
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
