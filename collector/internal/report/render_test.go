package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/google/go-cmp/cmp"
)

// tables returns a Markdown document's tables keyed by the heading above
// them, each as rows of cells with code spans unwrapped.
func tables(md string) map[string][][]string {
	out := make(map[string][][]string)
	heading := ""
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "#") {
			heading = strings.TrimSpace(strings.TrimLeft(l, "#"))
			continue
		}
		if !strings.HasPrefix(l, "|") || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "|---") {
			continue
		}
		var rows [][]string
		for i += 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			var cells []string
			for _, c := range strings.Split(strings.Trim(lines[i], "|"), " | ") {
				cells = append(cells, strings.Trim(strings.TrimSpace(c), "`"))
			}
			rows = append(rows, cells)
		}
		if _, ok := out[heading]; !ok {
			out[heading] = rows
		}
	}
	return out
}

// TestMarkdownMatchesSeed checks the Markdown report of the seed replica
// prints the seed report's tables to its precision: components, op types and
// the top 10 ops (the seed cut long operation names, and printed occurrences
// as floats); idle is the corrected 99.97 %, not the seed's 99.98 %.
func TestMarkdownMatchesSeed(t *testing.T) {
	seedMD, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "seed-run", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Markdown(loadInput(t, "seed-replica"))
	if err != nil {
		t.Fatal(err)
	}
	ours, seed := tables(string(files[0].Data)), tables(string(seedMD))
	seedTop := seed["1) Device Time Dominated by FlashAttention + Matmul"]
	for _, tc := range []struct {
		ours, seed string
		seedRows   [][]string
	}{
		{"Device time by component", "2) Component Breakdown (Attention vs MLP vs Sampler)", nil},
		{"Device op types", "", nil},
		{"Top device ops", "", seedTop},
	} {
		got := ours[tc.ours]
		want := tc.seedRows
		if want == nil && tc.seed != "" {
			want = seed[tc.seed]
		}
		if tc.ours == "Device op types" {
			// The seed's section 1 holds two tables: top ops, then op types.
			want = seedSecondTable(string(seedMD))
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("%s: %d rows, the seed printed %d", tc.ours, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if tc.ours == "Top device ops" {
				// Operation: the seed printed a prefix; occurrences as "1.0".
				if !strings.HasPrefix(g[1], w[1]) {
					t.Errorf("%s row %d operation %q, the seed printed %q", tc.ours, i, g[1], w[1])
				}
				g = []string{g[0], g[2] + ".0", g[3], g[4], g[5]}
				w = []string{w[0], w[2], w[3], w[4], w[5]}
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("%s row %d differs from the seed (-seed +ours):\n%s", tc.ours, i, diff)
			}
		}
	}
	idle := ours["Device idle vs non-idle"]
	if len(idle) != 1 || idle[0][2] != "1,515.1" || idle[0][3] != "5,043,650.4" || idle[0][4] != "99.97%" {
		t.Errorf("idle table = %q, want busy 1,515.1, idle 5,043,650.4, 99.97%%", idle)
	}
}

// seedSecondTable returns the seed's op-type table (the second table under
// its section 1).
func seedSecondTable(md string) [][]string {
	_, rest, _ := strings.Cut(md, "Top op types (non‑idle, top 10):")
	return tables("# x\n" + rest)["x"]
}

func TestFailedAndOddSections(t *testing.T) {
	r := loadInput(t, "tiny")
	r.Title = "odd"
	r.Sections = append(r.Sections[:1],
		&sdk.Section{Name: "crashy", Title: "Crashy plugin", Error: "plugin crashy: exited with status 2 | <stderr>"},
		nil,
		&sdk.Section{Name: "top_ops", Title: "Top ops again", Columns: []sdk.Column{{Key: "name"}}},
		&sdk.Section{Name: "bad_chart", Charts: []sdk.Chart{{Kind: "pie"}}},
	)
	if _, err := Markdown(r); !errors.Is(err, ErrChartKind) {
		t.Errorf("Markdown with a pie chart: err = %v, want ErrChartKind", err)
	}
	r.Sections = r.Sections[:len(r.Sections)-1]
	files, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	md := string(files[0].Data)
	for _, want := range []string{
		"# odd\n",
		"## Crashy plugin\n\n> **This analyzer failed:** plugin crashy: exited with status 2 \\| \\<stderr\\>\n",
		"## section\n\n> **This analyzer failed:** the analyzer returned no section\n",
		"## Top ops again\n\n_No rows._\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Order    []string `json:"order"`
		Sections map[string]struct {
			Error string `json:"error"`
			Rows  []any  `json:"rows"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"top_ops", "crashy", "section", "top_ops_2"}, got.Order); diff != "" {
		t.Errorf("JSON order mismatch (-want +got):\n%s", diff)
	}
	if got.Sections["crashy"].Error == "" || got.Sections["top_ops_2"].Rows == nil {
		t.Errorf("JSON sections = %+v", got.Sections)
	}
	h, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), `<p class="error"><b>This analyzer failed:</b> plugin crashy: exited with status 2 | &lt;stderr&gt;</p>`) {
		t.Errorf("HTML lacks the escaped error")
	}
}

func TestNoReport(t *testing.T) {
	if _, err := Markdown(nil); !errors.Is(err, ErrNoReport) {
		t.Errorf("Markdown(nil) err = %v", err)
	}
	if _, err := HTML(nil); !errors.Is(err, ErrNoReport) {
		t.Errorf("HTML(nil) err = %v", err)
	}
	if _, err := JSON(nil); !errors.Is(err, ErrNoReport) {
		t.Errorf("JSON(nil) err = %v", err)
	}
	// An empty report still renders, with every list present in JSON.
	b, err := JSON(&Report{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"windows": []`, `"devices": {}`, `"order": []`, `"sections": {}`, `"schema_version": 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON(empty) lacks %s:\n%s", want, b)
		}
	}
	if _, err := Markdown(&Report{}); err != nil {
		t.Errorf("Markdown(empty): %v", err)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Name: "report.md", Data: []byte("x")}, {Name: "images/a.svg", Data: []byte("<svg/>")}}
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "images", "a.svg")); err != nil || string(b) != "<svg/>" {
		t.Errorf("images/a.svg = %q, %v", b, err)
	}
	for _, bad := range []string{"../escape.md", "/abs.md", ""} {
		if err := Write(dir, []File{{Name: bad}}); !errors.Is(err, ErrBadFileName) {
			t.Errorf("Write(%q) err = %v, want ErrBadFileName", bad, err)
		}
	}
}

func TestChartFile(t *testing.T) {
	tests := []struct {
		name string
		i    int
		want string
	}{
		{"top_ops", 0, "images/top_ops.svg"},
		{"host_events", 1, "images/host_events-2.svg"},
		{"My Plugin/../x", 0, "images/my_plugin____x.svg"},
		{"", 0, "images/section.svg"},
	}
	for _, tt := range tests {
		if got := chartFile(tt.name, tt.i); got != tt.want {
			t.Errorf("chartFile(%q, %d) = %q, want %q", tt.name, tt.i, got, tt.want)
		}
	}
}
