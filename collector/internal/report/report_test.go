package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/golden"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// loadInput reads a report input fixture: a capture summary and the built-in
// sections, as plugins/internal/builtin's TestReportInputs writes them.
// Whole numbers in rows come back as int64, as analyzers send them.
func loadInput(t *testing.T, name string) *Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Summary  capture.Summary `json:"summary"`
		Sections []*sdk.Section  `json:"sections"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, s := range in.Sections {
		for _, r := range s.Rows {
			for k, v := range r {
				n, ok := v.(json.Number)
				if !ok {
					continue
				}
				if i, err := n.Int64(); err == nil && !strings.ContainsAny(n.String(), ".eE") {
					r[k] = i
				} else if f, err := n.Float64(); err == nil {
					r[k] = f
				}
			}
		}
	}
	exactMicros(t, b, &in.Summary)
	return &Report{Summary: in.Summary, Sections: in.Sections}
}

// exactMicros sets the summary's times again from the decimal text:
// capture.Micros reads JSON through float64, which loses the last digit.
func exactMicros(t *testing.T, b []byte, s *capture.Summary) {
	t.Helper()
	var raw struct {
		Summary struct {
			SpanStartUS json.Number               `json:"span_start_us"`
			SpanEndUS   json.Number               `json:"span_end_us"`
			SpanUS      json.Number               `json:"span_us"`
			GapUS       json.Number               `json:"gap_us"`
			PadUS       json.Number               `json:"pad_us"`
			NonIdleOpUS json.Number               `json:"non_idle_op_us"`
			WindowsUS   json.Number               `json:"windows_us"`
			Windows     [][2]json.Number          `json:"windows"`
			Devices     map[string]map[string]any `json:"devices"`
		} `json:"summary"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	m := func(n any) capture.Micros {
		num, _ := n.(json.Number)
		us, frac, _ := strings.Cut(num.String(), ".")
		whole, err := strconv.ParseInt(us, 10, 64)
		if err != nil || len(frac) > 6 {
			t.Fatalf("time %q is not a decimal with up to six places", num)
		}
		ps, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		return capture.Micros{US: whole, PS: ps}
	}
	r := raw.Summary
	s.SpanStartUS, s.SpanEndUS, s.SpanUS = m(r.SpanStartUS), m(r.SpanEndUS), m(r.SpanUS)
	s.GapUS, s.PadUS, s.NonIdleOpUS, s.WindowsUS = m(r.GapUS), m(r.PadUS), m(r.NonIdleOpUS), m(r.WindowsUS)
	for i, w := range r.Windows {
		s.Windows[i] = [2]capture.Micros{m(w[0]), m(w[1])}
	}
	for name, d := range r.Devices {
		ds := s.Devices[name]
		ds.SpanUS, ds.BusyUS, ds.IdleUS = m(d["span_us"]), m(d["busy_us"]), m(d["idle_us"])
		s.Devices[name] = ds
	}
}

// checkGolden compares got with testdata/golden/<name>, or writes it with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", "golden", filepath.FromSlash(name)), got, *update)
}

var inputs = []string{"tiny", "seed-replica"}

func TestMarkdownGolden(t *testing.T) {
	for _, name := range inputs {
		t.Run(name, func(t *testing.T) {
			files, err := Markdown(loadInput(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if files[0].Name != MarkdownName {
				t.Errorf("first file %q, want %q", files[0].Name, MarkdownName)
			}
			for _, f := range files {
				checkGolden(t, name+"/"+f.Name, f.Data)
			}
		})
	}
}

func TestHTMLGolden(t *testing.T) {
	for _, name := range inputs {
		t.Run(name, func(t *testing.T) {
			b, err := HTML(loadInput(t, name))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+"/"+HTMLName, b)
			for _, bad := range []string{"<script", "http://", "https://", "src="} {
				if bytes.Contains(bytes.ReplaceAll(b, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
					t.Errorf("HTML holds %q: it must be self-contained and script-free", bad)
				}
			}
		})
	}
}

func TestJSONGolden(t *testing.T) {
	for _, name := range inputs {
		t.Run(name, func(t *testing.T) {
			b, err := JSON(loadInput(t, name))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+"/"+JSONName, b)
		})
	}
}
