package builtin_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/load"
)

// TestdataDir returns the shared fixtures folder, ../shared/testdata beside
// the module root, or skips the test when it is missing.
func TestdataDir(t testing.TB) string {
	t.Helper()
	td := filepath.Join(moduleRoot(t), "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(td, "README.md")); err != nil {
		t.Skipf("shared fixtures not found at %s (they sit beside the checkout): %v", td, err)
	}
	return td
}

// moduleRoot returns the folder holding go.mod above the test's folder.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test's folder: cannot find ../shared/testdata")
		}
		dir = parent
	}
	return dir
}

// Fixture is one capture file of the shared fixtures.
type Fixture struct {
	// Name is a short name for subtests, e.g. "tiny/xplane".
	Name string
	// Dir is the folder under testdata, holding truth.json.
	Dir string
	// File is the capture file in Dir.
	File string
}

// Fixtures are every capture file with a truth.json, in each format there is.
var Fixtures = []Fixture{
	{"tiny/xplane", "tiny", "tiny-host.xplane.pb"},
	{"tiny/json", "tiny", "tiny-host.trace.json"},
	{"tiny/json.gz", "tiny", "tiny-host.trace.json.gz"},
	{"seed-replica/xplane", "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb"},
	{"seed-replica/json.gz", "seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz"},
	{"gpu/xplane", "real/xprof-gpu-multi-worker", "34.83.195.179_6003.xplane.pb"},
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
	path := filepath.Join(TestdataDir(t), f.Dir, f.File)
	cache.Lock()
	defer cache.Unlock()
	if c, ok := cache.m[path]; ok {
		return c
	}
	c, err := load.File(context.Background(), path, load.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if cache.m == nil {
		cache.m = make(map[string]*capture.Capture)
	}
	cache.m[path] = c
	return c
}

// Truth is the part of a fixture's truth.json the analyzers are checked
// against.
type Truth struct {
	SpanUS  float64 `json:"span_us"`
	Devices map[string]struct {
		SpanUS   float64 `json:"span_us"`
		BusyUS   float64 `json:"busy_us"`
		IdleUS   float64 `json:"idle_us"`
		IdlePct  float64 `json:"idle_pct"`
		OpEvents int64   `json:"op_events"`
	} `json:"devices"`
	Windows        [][2]float64 `json:"windows"`
	GapUS          float64      `json:"gap_us"`
	PadUS          float64      `json:"pad_us"`
	DeviceOpEvents int64        `json:"device_op_events"`
	NonIdleOpUS    float64      `json:"non_idle_op_us"`
	TopOps         []struct {
		Type        string  `json:"type"`
		Operation   string  `json:"operation"`
		Occurrences int64   `json:"occurrences"`
		TotalUS     float64 `json:"total_us"`
		Pct         float64 `json:"pct"`
	} `json:"top_ops"`
	OpTypes []struct {
		Type    string  `json:"type"`
		TotalUS float64 `json:"total_us"`
		Pct     float64 `json:"pct"`
	} `json:"op_types"`
	Components []struct {
		Component string  `json:"component"`
		TotalUS   float64 `json:"total_us"`
		Pct       float64 `json:"pct"`
	} `json:"components"`
	HostEvents []struct {
		Name    string  `json:"name"`
		Count   int64   `json:"count"`
		TotalUS float64 `json:"total_us"`
		SelfUS  float64 `json:"self_us"`
	} `json:"host_events"`
}

// LoadTruth reads a fixture folder's truth.json.
func LoadTruth(t testing.TB, f Fixture) *Truth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(TestdataDir(t), f.Dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr Truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s/truth.json: %v", f.Dir, err)
	}
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
	b, err := os.ReadFile(filepath.Join(TestdataDir(t), "seed-run", "report.md"))
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
