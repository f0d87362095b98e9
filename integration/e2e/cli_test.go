package e2e

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// truthCaptures finds every capture file (.xplane.pb, .json, .json.gz) in
// every folder of the shared testdata that holds a truth.json: captures
// added with their truth.json join the tests without a change here.
func truthCaptures(t *testing.T) []struct{ dir, file string } {
	t.Helper()
	td := fixtures.Dir(t)
	var out []struct{ dir, file string }
	for _, dir := range fixtures.Folders(t) {
		entries, err := os.ReadDir(filepath.Join(td, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && n != fixtures.TruthFile && (strings.HasSuffix(n, ".xplane.pb") || strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".json.gz")) {
				out = append(out, struct{ dir, file string }{dir, n})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no capture beside a truth.json under %s", td)
	}
	return out
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
	}
}

// TestInspectJSONMatchesTruth runs `fleetprof inspect --format json` on every
// fixture and checks every field truth.json gives.
func TestInspectJSONMatchesTruth(t *testing.T) {
	td := fixtures.Dir(t)
	for _, c := range truthCaptures(t) {
		t.Run(c.dir+"/"+c.file, func(t *testing.T) {
			tr := fixtures.ReadTruth[fixtures.Truth](t, c.dir)
			out, errOut, code := fleetprof(t, "inspect", filepath.Join(td, c.dir, c.file), "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct {
				SpanUS         float64      `json:"span_us"`
				SpanFrom       string       `json:"span_from"`
				EventsTotal    int64        `json:"events_total"`
				EventsKept     int64        `json:"events_kept"`
				DeviceOpEvents int64        `json:"device_op_events"`
				Windows        [][2]float64 `json:"windows"`
				Devices        map[string]struct {
					BusyUS   float64 `json:"busy_us"`
					IdleUS   float64 `json:"idle_us"`
					IdlePct  float64 `json:"idle_pct"`
					OpEvents int64   `json:"op_events"`
				} `json:"devices"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("inspect JSON: %v\n%s", err, out)
			}
			near(t, "span_us", got.SpanUS, tr.SpanUS, 1)
			if tr.SpanFrom != "" && got.SpanFrom != tr.SpanFrom {
				t.Errorf("span_from = %q, want %q", got.SpanFrom, tr.SpanFrom)
			}
			if got.EventsTotal != tr.EventsTotal || got.EventsKept != tr.EventsKept || got.DeviceOpEvents != tr.DeviceOpEvents {
				t.Errorf("events total/kept/ops = %d/%d/%d, want %d/%d/%d", got.EventsTotal, got.EventsKept, got.DeviceOpEvents, tr.EventsTotal, tr.EventsKept, tr.DeviceOpEvents)
			}
			if len(got.Windows) != len(tr.Windows) {
				t.Fatalf("windows = %d, want %d", len(got.Windows), len(tr.Windows))
			}
			for i := range tr.Windows {
				near(t, "window start", got.Windows[i][0], tr.Windows[i][0], 1)
				near(t, "window end", got.Windows[i][1], tr.Windows[i][1], 1)
			}
			if len(got.Devices) != len(tr.Devices) {
				t.Errorf("devices %d, want %d", len(got.Devices), len(tr.Devices))
			}
			for name, want := range tr.Devices {
				g := got.Devices[name]
				near(t, name+" busy_us", g.BusyUS, want.BusyUS, 0.01)
				near(t, name+" idle_us", g.IdleUS, want.IdleUS, 1)
				near(t, name+" idle_pct", g.IdlePct, want.IdlePct, 1e-6)
				if g.OpEvents != want.OpEvents {
					t.Errorf("%s op_events = %d, want %d", name, g.OpEvents, want.OpEvents)
				}
			}
		})
	}
}

// TestAnalyzeWithPluginProcesses runs `fleetprof analyze --rules seed
// --format json` on every capture with a truth.json (found by walking), so
// every section comes from a real plugin process, and checks the rows
// against truth.json: components with the seed rules are its
// seed_components.
func TestAnalyzeWithPluginProcesses(t *testing.T) {
	td := fixtures.Dir(t)
	for _, c := range truthCaptures(t) {
		t.Run(c.dir+"/"+c.file, func(t *testing.T) {
			tr := fixtures.ReadTruth[fixtures.Truth](t, c.dir)
			out, errOut, code := fleetprof(t, "analyze", filepath.Join(td, c.dir, c.file), "--format", "json", "--rules", "seed", "--plugins", filepath.Join(bins, "plugins"))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var rep struct {
				Sections map[string]struct {
					Rows  []map[string]any `json:"rows"`
					Error string           `json:"error"`
				} `json:"sections"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("report JSON: %v", err)
			}
			for name, want := range map[string][]map[string]any{
				"top_ops": tr.TopOps, "op_types": tr.OpTypes, "categories": tr.Categories, "components": tr.SeedComponents, "host_events": tr.HostEvents,
			} {
				sec, ok := rep.Sections[name]
				if !ok || sec.Error != "" {
					t.Errorf("section %s missing or failed: %q", name, sec.Error)
					continue
				}
				compareRows(t, name, sec.Rows, want)
			}
		})
	}
}

// compareRows matches rows by their string keys (order among equal totals
// may differ) and compares numbers: counts exactly, µs within 0.001, % within 1e-6.
func compareRows(t *testing.T, section string, got, want []map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", section, len(got), len(want))
		return
	}
	key := func(r map[string]any) string {
		var parts []string
		keys := []string{"type", "operation", "component", "name"}
		if section == "categories" {
			keys = []string{"category"}
		}
		for _, k := range keys {
			if v, ok := r[k].(string); ok {
				parts = append(parts, v)
			}
		}
		return strings.Join(parts, "\x00")
	}
	byKey := map[string]map[string]any{}
	for _, r := range got {
		byKey[key(r)] = r
	}
	bad := 0
	for i, w := range want {
		g, ok := byKey[key(w)]
		if !ok {
			t.Errorf("%s: row %d %q missing", section, i, key(w))
			bad++
			continue
		}
		for k, wv := range w {
			wf, isNum := wv.(float64)
			if !isNum {
				continue
			}
			gf, _ := g[k].(float64)
			tol := 0.001
			switch k {
			case "pct":
				tol = 1e-6
			case "occurrences", "count":
				tol = 0
			}
			if math.Abs(gf-wf) > tol {
				t.Errorf("%s %q: %s = %v, want %v", section, key(w), k, gf, wf)
				bad++
			}
		}
		if bad > 10 {
			t.Fatalf("%s: too many differences", section)
		}
	}
	// Sorted by total, descending.
	for i := 1; i < len(got); i++ {
		a, _ := got[i-1]["total_us"].(float64)
		b, _ := got[i]["total_us"].(float64)
		if b > a {
			t.Errorf("%s: rows not sorted by total_us at %d (%v after %v)", section, i, b, a)
			break
		}
	}
}

// TestCLIErrors checks bad input gives a named error, a message on stderr
// and a non-zero exit — never a panic.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no args", []string{"inspect"}, 2, "takes 1 argument"},
		{"bad flag", []string{"inspect", "--nope", "x"}, 2, "unknown flag"},
		{"missing file", []string{"inspect", filepath.Join(dir, "nope.xplane.pb")}, 1, "no such file"},
		{"empty xplane", []string{"inspect", write("e.xplane.pb", nil)}, 1, "2 GB"},
		{"empty json", []string{"inspect", write("e.trace.json", nil)}, 1, "empty"},
		{"truncated json", []string{"inspect", write("t.trace.json", []byte(`{"traceEvents":[{"ph":"X","pid":1,`))}, 1, "truncated"},
		{"garbage xplane", []string{"inspect", write("g.xplane.pb", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1})}, 1, "malformed"},
		{"host only", []string{"inspect", write("h.trace.json", []byte(`{"traceEvents":[{"ph":"M","pid":701,"name":"process_name","args":{"name":"/host:CPU"}},{"ph":"X","pid":701,"tid":1,"ts":1,"dur":2,"name":"a"},{}]}`))}, 1, "device_tracer_level=1"},
		{"trim without -o", []string{"trim", write("x.trace.json", []byte("{}"))}, 2, "-o OUT"},
		{"trim bad extension", []string{"trim", "x", "-o", filepath.Join(dir, "out.txt")}, 2, "unknown output format"},
		{"analyze no plugins", []string{"analyze", "x", "--plugins", filepath.Join(dir, "none")}, 1, "plugins"},
		{"bad report format", []string{"analyze", "x", "--format", "pdf"}, 2, "unknown report format"},
		{"bad rules file", []string{"analyze", "x", "--rules", write("r.yaml", []byte("rules:\n  - component: c\n    category: \"(\"\n"))}, 1, "rules[0].category (line 3)"},
		{"no such rules", []string{"analyze", "x", "--rules", filepath.Join(dir, "seeed")}, 1, "built-in set: default, seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := fleetprof(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("fleetprof %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine ") {
				t.Errorf("fleetprof %v panicked: %s", tt.args, errOut)
			}
		})
	}
}

// TestTrimThenAnalyzeFpcap trims to .fpcap and checks the analysis of the
// trimmed capture still has the whole host picture (dropped summaries).
func TestTrimThenAnalyzeFpcap(t *testing.T) {
	td := fixtures.Dir(t)
	tr := fixtures.ReadTruth[fixtures.Truth](t, "seed-replica")
	out := filepath.Join(t.TempDir(), "seed.fpcap")
	stdout, errOut, code := fleetprof(t, "trim", filepath.Join(td, "seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz"), "-o", out)
	if code != 0 {
		t.Fatalf("trim: exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "kept 723 of 356,442 events in 2 windows") {
		t.Errorf("trim output = %q", stdout)
	}
	rep, errOut, code := fleetprof(t, "analyze", out, "--format", "json", "--rules", "seed", "--plugins", filepath.Join(bins, "plugins"))
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, errOut)
	}
	var r struct {
		Sections map[string]struct {
			Rows []map[string]any `json:"rows"`
		} `json:"sections"`
	}
	if err := json.Unmarshal([]byte(rep), &r); err != nil {
		t.Fatal(err)
	}
	compareRows(t, "host_events", r.Sections["host_events"].Rows, tr.HostEvents)
	compareRows(t, "components", r.Sections["components"].Rows, tr.SeedComponents)
	compareRows(t, "categories", r.Sections["categories"].Rows, tr.Categories)
}
