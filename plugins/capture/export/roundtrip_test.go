package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
)

// captureFiles finds every capture file under root, in folders found by
// walking (real captures join the test by being added).
func captureFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		n := d.Name()
		if strings.HasSuffix(n, ".xplane.pb") || strings.HasSuffix(n, ".json.gz") ||
			(strings.HasSuffix(n, ".json") && n != "truth.json") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Skipf("no capture under %s", root)
	}
	return out
}

// TestRoundTripReal reads every real capture, trims it, writes the trimmed
// capture as trace JSON and as XPlane, reads each back, and checks that the
// same planes and lines hold exactly the kept events: names, times to the
// picosecond, stats (as strings in JSON, which stores strings), and the
// session. The JSON must also read with encoding/json and, when python3 is
// there, Python's json module, with the same events per process and thread.
func TestRoundTripReal(t *testing.T) {
	td := fixtures.Dir(t)
	files := captureFiles(t, filepath.Join(td, "real"))
	for _, src := range files {
		rel, _ := filepath.Rel(filepath.Join(td, "real"), src)
		t.Run(rel, func(t *testing.T) {
			ctx := context.Background()
			opts := load.Options{TempDir: t.TempDir(), Trim: trim.Options{AllowNoDevice: true}}
			orig, err := load.File(ctx, src, opts)
			if err != nil {
				t.Fatalf("load %s: %v", rel, err)
			}
			if orig.EventsKept() == 0 {
				t.Fatalf("%s: no event kept: nothing to round-trip", rel)
			}
			for _, name := range []string{"trimmed.trace.json.gz", "trimmed.xplane.pb"} {
				t.Run(name, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), name)
					if _, err := File(out, orig); err != nil {
						t.Fatalf("export: %v", err)
					}
					back, err := load.File(ctx, out, opts)
					if err != nil {
						t.Fatalf("read back: %v", err)
					}
					json := strings.HasSuffix(name, ".json.gz")
					compareCaptures(t, orig, back, json)
					if json {
						checkOtherReaders(t, out, orig)
					}
				})
			}
		})
	}
}

// rtLine is a line as the round trip compares it.
type rtLine struct {
	Plane, Line string
	Events      []rtEvent
}

// rtEvent is an event in absolute time.
type rtEvent struct {
	Name, Display string
	US, PS, Dur   int64
	Stats         []string
}

// flatten lists c's lines (an empty plane as a line named "") with their
// events in absolute time. With asJSON, names and stats are as trace JSON
// keeps them: a line's name is its display name when it has one, stats are
// "name=value" strings in sorted order, and a display name is also a
// long_name stat.
func flatten(c *capture.Capture, asJSON bool) []rtLine {
	var out []rtLine
	for _, p := range c.Planes {
		if len(p.Lines) == 0 {
			out = append(out, rtLine{Plane: p.Name})
		}
		for _, l := range p.Lines {
			fl := rtLine{Plane: p.Name, Line: l.Name}
			if asJSON && l.DisplayName != "" {
				fl.Line = l.DisplayName
			}
			if !asJSON && l.DisplayName != "" {
				fl.Line += " (" + l.DisplayName + ")"
			}
			for _, e := range l.Events {
				us, ps := c.AbsPS(e.Start)
				fe := rtEvent{Name: e.Name, Display: e.DisplayName, US: us, PS: ps, Dur: e.Dur}
				long := false
				for _, s := range e.Stats {
					v := s.String()
					if !asJSON {
						v = fmt.Sprintf("%d:%s", s.Kind, v)
					}
					long = long || s.Name == "long_name"
					fe.Stats = append(fe.Stats, s.Name+"="+v)
				}
				if asJSON {
					if !long && e.DisplayName != "" {
						fe.Stats = append(fe.Stats, "long_name="+e.DisplayName)
					}
					slices.Sort(fe.Stats)
				}
				fl.Events = append(fl.Events, fe)
			}
			out = append(out, fl)
		}
	}
	return out
}

func compareCaptures(t *testing.T, orig, back *capture.Capture, asJSON bool) {
	t.Helper()
	want, got := flatten(orig, asJSON), flatten(back, asJSON)
	if !asJSON && orig.Session.Len() > 0 && !slices.ContainsFunc(orig.Planes, func(p *capture.Plane) bool { return p.Name == "Task Environment" }) {
		// The XSpace records the session on a Task Environment plane of its own.
		want = append(want, rtLine{Plane: "Task Environment"})
	}
	if orig.EventsKept() != back.EventsKept() || back.EventsTotal != orig.EventsKept() {
		t.Errorf("read back %d events (%d kept), want the %d kept", back.EventsTotal, back.EventsKept(), orig.EventsKept())
	}
	if len(want) != len(got) {
		t.Errorf("read back %d lines, want %d:\n%s", len(got), len(want), lineDiff(want, got))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		if w.Plane != g.Plane || w.Line != g.Line || len(w.Events) != len(g.Events) {
			t.Errorf("line %d: read back %q / %q with %d events, want %q / %q with %d", i, g.Plane, g.Line, len(g.Events), w.Plane, w.Line, len(w.Events))
			continue
		}
		for j := range w.Events {
			if diff := cmp.Diff(w.Events[j], g.Events[j]); diff != "" {
				t.Errorf("%s / %s event %d (-wrote +read):\n%s", w.Plane, w.Line, j, diff)
				break
			}
		}
	}
	// The session comes back at the same absolute time.
	if orig.Session.Len() > 0 {
		wus, wps := orig.AbsPS(orig.Session.Start)
		gus, gps := back.AbsPS(back.Session.Start)
		if back.Session.Len() != orig.Session.Len() || wus != gus || wps != gps {
			t.Errorf("session read back at %d.%06d µs for %d ps, want %d.%06d µs for %d ps",
				gus, gps, back.Session.Len(), wus, wps, orig.Session.Len())
		}
		if back.SpanFrom != orig.SpanFrom {
			t.Errorf("span from %q read back, want %q", back.SpanFrom, orig.SpanFrom)
		}
	}
	if !asJSON {
		for i, p := range orig.Planes {
			if i < len(back.Planes) && !cmp.Equal(p.Stats, back.Planes[i].Stats) && p.Name != "Task Environment" {
				t.Errorf("plane %q stats (-wrote +read):\n%s", p.Name, cmp.Diff(p.Stats, back.Planes[i].Stats))
			}
		}
	}
}

// lineDiff shows the plane and line names of two lists side by side.
func lineDiff(want, got []rtLine) string {
	names := func(ls []rtLine) []string {
		var out []string
		for _, l := range ls {
			out = append(out, fmt.Sprintf("%s / %s (%d)", l.Plane, l.Line, len(l.Events)))
		}
		return out
	}
	return cmp.Diff(names(want), names(got))
}

// checkOtherReaders reads the written JSON with encoding/json and, when
// there, Python's json module: the same X events per process and thread
// names as the capture's kept events per plane and line, every pid and tid a
// 32-bit integer, every process and thread named before the first X event.
func checkOtherReaders(t *testing.T, path string, c *capture.Capture) {
	t.Helper()
	want := map[string]int{}
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			name := l.DisplayName
			if name == "" {
				name = l.Name
			}
			if len(l.Events) > 0 {
				want[p.Name+" / "+name] += len(l.Events)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Ph   string         `json:"ph"`
			Pid  *int32         `json:"pid"`
			Tid  *int32         `json:"tid"`
			Name string         `json:"name"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	procs := map[int32]string{}
	threads := map[[2]int32]string{}
	got := map[string]int{}
	seenX := false
	for i, e := range doc.TraceEvents {
		if e.Ph == "" {
			continue
		}
		if e.Pid == nil {
			t.Fatalf("event %d (%s %q) has no pid", i, e.Ph, e.Name)
		}
		var tid int32
		if e.Tid != nil {
			tid = *e.Tid
		}
		switch e.Ph {
		case "M":
			if seenX {
				t.Fatalf("event %d: M event after the first X event", i)
			}
			switch e.Name {
			case "process_name":
				procs[*e.Pid] = fmt.Sprint(e.Args["name"])
			case "thread_name":
				threads[[2]int32{*e.Pid, tid}] = fmt.Sprint(e.Args["name"])
			}
		case "X":
			seenX = true
			if procs[*e.Pid] == tracejson.SkipProcess {
				continue
			}
			th, ok := threads[[2]int32{*e.Pid, tid}]
			if !ok {
				t.Fatalf("X event %q on pid %d tid %d, which no thread_name names", e.Name, *e.Pid, tid)
			}
			got[procs[*e.Pid]+" / "+th]++
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encoding/json: X events per process / thread (-kept +read):\n%s", diff)
	}

	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not found: Python's json module not tried")
		return
	}
	const script = `
import gzip, json, sys
doc = json.load(gzip.open(sys.argv[1], "rt", encoding="utf-8"))
procs, threads, counts = {}, {}, {}
for e in doc["traceEvents"]:
    ph = e.get("ph")
    if ph == "M":
        if e["name"] == "process_name":
            procs[e["pid"]] = e["args"]["name"]
        elif e["name"] == "thread_name":
            threads[(e["pid"], e["tid"])] = e["args"]["name"]
    elif ph == "X":
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int), (e["pid"], e["tid"])
        assert -2**31 <= e["pid"] < 2**31 and -2**31 <= e["tid"] < 2**31, (e["pid"], e["tid"])
        if procs.get(e["pid"]) == "fleetprof":
            continue
        k = procs[e["pid"]] + " / " + threads[(e["pid"], e["tid"])]
        counts[k] = counts.get(k, 0) + 1
json.dump(counts, sys.stdout)
`
	cmd := exec.Command(py, "-c", script, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 json: %v\n%s", err, stderr.String())
	}
	var pyGot map[string]int
	if err := json.Unmarshal(outb, &pyGot); err != nil {
		t.Fatalf("python3 output: %v: %s", err, outb)
	}
	if diff := cmp.Diff(want, pyGot); diff != "" {
		t.Errorf("python3 json: X events per process / thread (-kept +read):\n%s", diff)
	}
}
