package xplane

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var update = flag.Bool("update", false, "rewrite the golden files and the FuzzRead seed corpus")

// readWith opens b with a given buffer size, walks it and loads every event.
func readWith(b []byte, bufSize int) ([]capturetest.Loaded, error) {
	f, err := open(bytes.NewReader(b), int64(len(b)), bufSize)
	if err != nil {
		return nil, err
	}
	r := &capturetest.Recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		return nil, err
	}
	out := make([]capturetest.Loaded, len(r.Events))
	for i, e := range r.Events {
		var ev capture.Event
		if err := f.Load(e.Ref, &ev); err != nil {
			return nil, err
		}
		if ev.Name != e.Name {
			return nil, fmt.Errorf("event %d: Load name %q, Walk name %q", i, ev.Name, e.Name)
		}
		ns, ps := capturetest.SplitPS(r.BaseNS, e.Start)
		out[i] = capturetest.Loaded{Name: ev.Name, DisplayName: ev.DisplayName, StartNS: ns, StartPS: ps, Dur: e.Dur, Stats: ev.Stats}
	}
	return out, nil
}

// FuzzRead opens, walks and loads every event of arbitrary bytes: it must
// not panic or hang, errors must be ErrEmpty or ErrMalformed, and the
// smallest buffer must read exactly what the default one reads.
func FuzzRead(f *testing.F) {
	f.Add(onePlane(xEvent(1, 0, 1, xStatStr(1, "v"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readWith(b, defaultBufSize)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEmpty) {
			t.Fatalf("read: %v, want nil, ErrEmpty or ErrMalformed", err)
		}
		small, err2 := readWith(b, minBufSize)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("default buffer: %v; smallest buffer: %v", err, err2)
		}
		if len(got) != len(small) || capturetest.FirstDiff(got, small) >= 0 {
			t.Fatalf("buffers disagree (-default +small):\n%s", cmp.Diff(got, small, cmpopts.EquateEmpty()))
		}
	})
}

// writtenSeed is the FuzzRead seed that fleetprof's writer wrote.
const writtenSeed = "written"

// TestSeedCorpus rewrites testdata/fuzz/FuzzRead with -update: tiny, cut and
// damaged copies of it, and small hand-built files. It keeps writtenSeed.
func TestSeedCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the FuzzRead seed corpus")
	}
	tiny, err := os.ReadFile(captures[0].path(t))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"tiny":          tiny,
		"tiny-cut-1000": tiny[:1000],
		"tiny-cut-q1":   tiny[:len(tiny)/4],
		"tiny-cut-half": tiny[:len(tiny)/2],
		"tiny-cut-q3":   tiny[:3*len(tiny)/4-1],
		"empty":         {},
		"aggregated": space(xPlane(1, "/host:CPU", [][]byte{
			xLine(1, "agg", 100, xAggEvent(1, 7, 0)),
			xLine(2, "mixed", 200, xEvent(1, 0, 10), xAggEvent(1, 3, 0), xEvent(1, 2500, 5)),
		}, xEventMeta(1, "op"))),
		"wrong-type-offset": onePlane(concat(fInt(1, 1), fFixed64(2, 5))),
		"negative-duration": onePlane(xEvent(1, 10, -5)),
		"overflow": space(xPlane(1, "p", [][]byte{
			xLine(1, "a", 0, xEvent(1, 0, 1)),
			xLine(2, "b", 1<<62, xEvent(1, 0, 1)),
		})),
		"stats": onePlane(xEvent(1, 0, 1, concat(fInt(1, 1), fVarint(7, 1)), concat(fInt(1, 1), fString(8, "x")))),
	}
	for i, off := range []int{100, 5000} {
		m := bytes.Clone(tiny[:len(tiny)/4])
		m[off] ^= 0x80
		seeds["tiny-flip-"+strconv.Itoa(i)] = m
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	old, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range old {
		// The seed "written", an XSpace fleetprof's writer wrote, is the
		// writer's: go test -update in plugins/capture/xplanew rewrites it.
		if e.Name() == writtenSeed {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
