package builtin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Fixture is one capture file of the shared fixtures.
type Fixture struct {
	// Name is a short name for subtests, e.g. "tiny/xplane" or
	// "real/kineto-resnet50/json.gz".
	Name string
	// Dir is the folder under testdata, holding truth.json.
	Dir string
	// File is the capture file in Dir.
	File string
}

// captureFormat names the format of a capture file by its name, "" for a
// file that is no capture (truth.json, a README).
func captureFormat(name string) string {
	switch {
	case strings.HasSuffix(name, ".xplane.pb"):
		return "xplane"
	case strings.HasSuffix(name, ".json.gz") && name != "truth.json.gz":
		return "json.gz"
	case strings.HasSuffix(name, ".json") && name != "truth.json":
		return "json"
	case strings.HasSuffix(name, ".fpcap"):
		return "fpcap"
	}
	return ""
}

var found struct {
	sync.Once
	list []Fixture
	err  error
}

// Fixtures returns every capture file of every folder under the shared
// testdata that holds a truth.json (fixtures.Folders), in every format
// present there: a capture added with its truth.json joins every test that
// ranges over them.
func Fixtures(t testing.TB) []Fixture {
	t.Helper()
	td := fixtures.Dir(t)
	folders := fixtures.Folders(t)
	found.Do(func() {
		for _, rel := range folders {
			entries, err := os.ReadDir(filepath.Join(td, rel))
			if err != nil {
				found.err = err
				return
			}
			byFormat := map[string]int{}
			var list []Fixture
			for _, e := range entries {
				if f := captureFormat(e.Name()); f != "" && !e.IsDir() {
					byFormat[f]++
					list = append(list, Fixture{Name: rel + "/" + f, Dir: rel, File: e.Name()})
				}
			}
			for i, f := range list {
				if byFormat[captureFormat(f.File)] > 1 { // several hosts: name them by file
					list[i].Name = rel + "/" + f.File
				}
			}
			found.list = append(found.list, list...)
		}
	})
	if found.err != nil {
		t.Fatalf("find fixtures under %s: %v", td, found.err)
	}
	if len(found.list) == 0 {
		t.Fatalf("no folder under %s holds a truth.json and a capture", td)
	}
	return found.list
}

// FixtureNamed returns the fixture of that name, or fails the test.
func FixtureNamed(t testing.TB, name string) Fixture {
	t.Helper()
	for _, f := range Fixtures(t) {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return Fixture{}
}

// IsKineto reports whether a fixture is a PyTorch profiler (kineto) trace.
func IsKineto(t testing.TB, f Fixture) bool {
	t.Helper()
	if captureFormat(f.File) != "json" && captureFormat(f.File) != "json.gz" {
		return false
	}
	r, err := os.Open(filepath.Join(fixtures.Dir(t), f.Dir, f.File))
	if err != nil {
		return false
	}
	defer r.Close()
	var head []byte
	if strings.HasSuffix(f.File, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return false
		}
		head, _ = io.ReadAll(io.LimitReader(zr, 1<<20))
	} else {
		head, _ = io.ReadAll(io.LimitReader(r, 1<<20))
	}
	return bytes.Contains(head, []byte(`"cat"`)) && (bytes.Contains(head, []byte("PyTorch")) || bytes.Contains(head, []byte(`"cpu_op"`)) || bytes.Contains(head, []byte(`"Operator"`)) || bytes.Contains(head, []byte(`"kernel"`)) || bytes.Contains(head, []byte(`"Kernel"`)))
}

// cache holds loaded fixtures: the seed replica takes a while to load, and
// several analyzers' tests in one binary read it.
var cache struct {
	sync.Mutex
	m map[string]*capture.Capture
}

// Load loads a fixture with the default gap and pad, once per test binary.
func Load(t testing.TB, f Fixture) *capture.Capture {
	t.Helper()
	path := filepath.Join(fixtures.Dir(t), f.Dir, f.File)
	cache.Lock()
	defer cache.Unlock()
	if c, ok := cache.m[path]; ok {
		return c
	}
	c, err := load.File(context.Background(), path, load.Options{})
	if err != nil {
		if IsKineto(t, f) {
			t.Fatalf("load %s: %v (reading PyTorch kineto traces needs the trace JSON reader's kineto support: string pids/tids, late metadata, device ops from cat kernel/gpu_memcpy/gpu_memset)", path, err)
		}
		t.Fatalf("load %s: %v", path, err)
	}
	if cache.m == nil {
		cache.m = make(map[string]*capture.Capture)
	}
	cache.m[path] = c
	return c
}

// LoadTruth reads a fixture folder's truth.json.
func LoadTruth(t testing.TB, f Fixture) *fixtures.Truth {
	t.Helper()
	tr := fixtures.ReadTruth[fixtures.Truth](t, f.Dir)
	return &tr
}

// Tolerances for comparing with truth.json.
const (
	// TimeTol is for times in µs.
	TimeTol = 0.001
	// PctTol is for percentages.
	PctTol = 1e-6
)

// Near reports whether a and b are within tol.
func Near(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// seedTables reads the seed report's tables, keyed by the line before each
// table's header, as their data lines.
func seedTables(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "seed-run", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]string)
	lines := strings.Split(string(b), "\n")
	for i := 0; i+2 < len(lines); i++ {
		if !strings.HasPrefix(lines[i+1], "|") || !strings.HasPrefix(lines[i+2], "|---") {
			continue
		}
		title := strings.TrimSpace(lines[i])
		if title == "" && i > 0 {
			title = strings.TrimSpace(lines[i-1])
		}
		var rows []string
		for j := i + 3; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			rows = append(rows, lines[j])
		}
		out[title] = rows
		i += 2 + len(rows)
	}
	return out
}

// splitRow returns the trimmed cells of a Markdown table row.
func splitRow(line string) []string {
	cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// diffLines compares table rows cell by cell.
func diffLines(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the seed report has no such table", what)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, the seed printed %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if g, w := strings.Join(splitRow(got[i]), " | "), strings.Join(splitRow(want[i]), " | "); g != w {
			t.Errorf("%s row %d = %s, the seed printed %s", what, i, g, w)
		}
	}
}
