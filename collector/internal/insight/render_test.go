package insight

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got, *update)
}

// sampleFleet is a three-host fleet with host c slower on attention.
func sampleFleet() *FleetReport {
	hs := []host{std("a", 1), std("b", 1), std("c", 1.4)}
	for i := range hs {
		hs[i].id = "f1-" + hs[i].agent
		hs[i].fleet = "f1"
		hs[i].idle = 99.9
	}
	return BuildFleet("f1", summaries(hs...), Rule{})
}

func TestFleetRender(t *testing.T) {
	r := sampleFleet()
	var text bytes.Buffer
	if err := WriteFleetText(&text, r, nil); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "fleet.txt", text.Bytes())
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "fleet.json", append(js, '\n'))
	files := FleetMarkdown(r)
	if len(files) != 2 || files[0].Name != "fleet.md" || files[1].Name != FleetChartFile {
		t.Fatalf("FleetMarkdown files = %v", files)
	}
	checkGolden(t, "fleet.md", files[0].Data)
	checkGolden(t, "fleet.svg", files[1].Data)
	page, err := FleetHTML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr class="outlier"><td>c</td>`, "<svg", "component:attention (slower)", "1.40×", "µs per request"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("FleetHTML lacks %q", want)
		}
	}
	if strings.Contains(string(page), "<script") {
		t.Error("FleetHTML has a script")
	}
	for _, b := range [][]byte{files[1].Data} {
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			if _, err := d.Token(); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("fleet.svg: %v", err)
			}
		}
	}
}

func TestFleetRenderEscapes(t *testing.T) {
	h := std("a|<b>", 1)
	h.comps = map[string]float64{"x|<y>": 1}
	r := BuildFleet("f<1>", summaries(h), Rule{})
	md := string(FleetMarkdown(r)[0].Data)
	if strings.Contains(md, "<b>") || strings.Contains(md, "<y>") || !strings.Contains(md, `a\|&lt;b&gt;`) {
		t.Errorf("Markdown not escaped:\n%s", md)
	}
	page, err := FleetHTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "<b>") || strings.Contains(string(page), "f<1>") {
		t.Errorf("HTML not escaped")
	}
}

func TestFleetChartBounded(t *testing.T) {
	var hs []host
	for i := range MaxChartHosts + 20 {
		hs = append(hs, std(string(rune('a'+i%26))+strings.Repeat("x", i/26), 1))
	}
	hs = append(hs, std("zzz-slow", 2))
	r := BuildFleet("big", summaries(hs...), Rule{})
	ch := FleetChart(r)
	if len(ch.Bars) != MaxChartHosts {
		t.Fatalf("%d bars, want %d", len(ch.Bars), MaxChartHosts)
	}
	found := false
	for _, b := range ch.Bars {
		found = found || (b.Label == "zzz-slow" && b.Highlight)
	}
	if !found {
		t.Error("the outlier is not among the bars")
	}
}

func TestTrendAndChangesRender(t *testing.T) {
	at := func(m int) int64 { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC).UnixNano() }
	hs := []host{
		{agent: "a", id: "a1", fleet: "f1", at: at(0), requests: 2, comps: map[string]float64{"attention": 200}},
		{agent: "b", id: "b1", fleet: "f1", at: at(0), requests: 2, comps: map[string]float64{"attention": 240}},
		{agent: "a", id: "a2", at: at(10), requests: 2, comps: map[string]float64{"attention": 300}},
	}
	tr := BuildTrend("component:attention", summaries(hs...))
	var b bytes.Buffer
	if err := WriteTrendText(&b, tr, nil); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "trend.txt", b.Bytes())
	ch := TrendChart(tr, "attention")
	if len(ch.Series) != 3 || !ch.Series[2].Bold || ch.Series[2].Name != "fleet median" {
		t.Errorf("TrendChart series = %+v", ch.Series)
	}

	base := summaries(baseline(3)...)
	cur := std("a", 1.4).summary()
	cur.CaptureID, cur.Committed = "a-4", "2026-01-02T03:04:05.000000Z"
	b.Reset()
	if err := WriteChangesText(&b, Compare(cur, base, BaselineRolling, Rule{}), nil); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "changes.txt", b.Bytes())
	b.Reset()
	_ = WriteChangesText(&b, nil, nil)
	if b.String() != "No regressions.\n" {
		t.Errorf("WriteChangesText(none) = %q", b.String())
	}
}

func TestTextEscapes(t *testing.T) {
	h := std("a", 1)
	r := BuildFleet("f1", summaries(h), Rule{})
	r.Hosts[0].Host = "evil\nrow"
	var b bytes.Buffer
	esc := func(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }
	if err := WriteFleetText(&b, r, esc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `evil\nrow`) || strings.Contains(b.String(), "evil\nrow") {
		t.Errorf("host not escaped:\n%s", b.String())
	}
}
