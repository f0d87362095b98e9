package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleetprof/fleetprof/collector/internal/report"
)

// File names of the rendered report.
const (
	// JSONName is the JSON report's file name.
	JSONName = "experiment.json"
	// MarkdownName is the Markdown report's file name.
	MarkdownName = "experiment.md"
	// HTMLName is the HTML report's file name.
	HTMLName = "experiment.html"
)

// tableComponents bounds the component columns of the text and Markdown
// cell tables.
const tableComponents = 6

// JSON renders the report as indented JSON (docs/experiments.md).
func JSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("experiment: encode JSON: %w", err)
	}
	return append(b, '\n'), nil
}

// us formats microseconds with one decimal.
func us(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// g formats a fitted figure with 4 significant digits.
func g(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// header is a report's first line.
func header(r *Report) string {
	s := "Experiment " + r.ExperimentID
	if r.Name != "" {
		s += " (" + r.Name + ")"
	}
	s += ": " + r.Status
	if r.Message != "" {
		s += ", " + r.Message
	}
	return s
}

// table is a header and rows of cells, for text and Markdown.
type table struct {
	head []string
	rows [][]string
}

func (r *Report) cellTable() table {
	comps := r.Components[:min(len(r.Components), tableComponents)]
	t := table{head: []string{"endpoint"}}
	t.head = append(t.head, r.Params...)
	t.head = append(t.head, "captures", "requests", "device µs/req")
	t.head = append(t.head, comps...)
	for _, c := range r.Cells {
		row := []string{c.Endpoint}
		for _, p := range r.Params {
			row = append(row, strconv.FormatInt(c.Params[p], 10))
		}
		caps := strconv.Itoa(len(c.CaptureIDs))
		if c.Status != "done" {
			caps += " (" + c.Status + ")"
		}
		row = append(row, caps, strconv.FormatInt(c.Requests, 10), us(c.DeviceUSPerRequest))
		for _, k := range comps {
			row = append(row, us(c.Components[k]))
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// sideTable puts the endpoints side by side: per combination of the
// parameters, device time per request and per component on each endpoint.
func (r *Report) sideTable() (table, bool) {
	if len(r.Endpoints) < 2 {
		return table{}, false
	}
	t := table{head: append(slices.Clone(r.Params), "metric")}
	t.head = append(t.head, r.Endpoints...)
	t.head = append(t.head, r.Endpoints[1]+" / "+r.Endpoints[0])
	type key = string
	var order []key
	byKey := map[key]map[string]*CellReport{}
	for i := range r.Cells {
		c := &r.Cells[i]
		k := fixedKey(c.Params, "")
		if byKey[k] == nil {
			byKey[k] = map[string]*CellReport{}
			order = append(order, k)
		}
		byKey[k][c.Endpoint] = c
	}
	ms := []string{MetricDevice}
	for _, c := range r.Components[:min(len(r.Components), tableComponents)] {
		ms = append(ms, "component:"+c)
	}
	for _, k := range order {
		cells := byKey[k]
		var params map[string]int64
		for _, c := range cells {
			params = c.Params
			break
		}
		for _, m := range ms {
			row := []string{}
			for _, p := range r.Params {
				row = append(row, strconv.FormatInt(params[p], 10))
			}
			row = append(row, strings.TrimPrefix(m, "component:"))
			var vals []float64
			for _, ep := range r.Endpoints {
				c := cells[ep]
				if c == nil || c.Requests == 0 {
					row = append(row, "—")
					vals = append(vals, 0)
					continue
				}
				v := c.Value(m)
				row = append(row, us(v))
				vals = append(vals, v)
			}
			ratio := "—"
			if vals[0] > 0 && vals[1] > 0 {
				ratio = strconv.FormatFloat(vals[1]/vals[0], 'f', 2, 64) + "×"
			}
			t.rows = append(t.rows, append(row, ratio))
		}
	}
	return t, true
}

// fitTable lists the fits of the device time and the components (ops
// too when withOps).
func (r *Report) fitTable(withOps bool) table {
	t := table{head: []string{"endpoint", "param", "fixed", "metric", "points", "slope", "intercept", "r2", "exponent", "r2_log"}}
	for _, f := range r.Fits {
		if !withOps && strings.HasPrefix(f.Metric, "op:") {
			continue
		}
		var fixed []string
		for _, k := range slices.Sorted(maps.Keys(f.Fixed)) {
			fixed = append(fixed, k+"="+strconv.FormatInt(f.Fixed[k], 10))
		}
		t.rows = append(t.rows, []string{f.Endpoint, f.Param, strings.Join(fixed, " "), f.Metric, strconv.Itoa(f.Points),
			g(f.Slope), g(f.Intercept), strconv.FormatFloat(f.R2, 'f', 4, 64), strconv.FormatFloat(f.Exponent, 'f', 3, 64),
			strconv.FormatFloat(f.R2Log, 'f', 4, 64)})
	}
	return t
}

func (t table) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func (t table) markdown(b *bytes.Buffer) {
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	b.WriteString("|")
	for _, h := range t.head {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
}

// Table writes the report as text tables, for a terminal.
func Table(w io.Writer, r *Report) {
	fmt.Fprintln(w, header(r))
	fmt.Fprintln(w, "\nCells (µs per request):")
	r.cellTable().text(w)
	if t, ok := r.sideTable(); ok {
		fmt.Fprintln(w, "\nEndpoints side by side (µs per request):")
		t.text(w)
	}
	fmt.Fprintln(w, "\nScaling fits (µs per request; ops in --format json):")
	r.fitTable(false).text(w)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "\n"+n)
	}
}

// Markdown renders the report as Markdown with its charts as SVG files
// beside it (images/*.svg).
func Markdown(r *Report) []report.File {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", header(r))
	b.WriteString("## Cells (µs per request)\n\n")
	r.cellTable().markdown(&b)
	if t, ok := r.sideTable(); ok {
		b.WriteString("\n## Endpoints side by side (µs per request)\n\n")
		t.markdown(&b)
	}
	var files []report.File
	charts := Charts(r)
	if len(charts) > 0 {
		b.WriteString("\n## Time against " + charts[0].Param + "\n\n")
	}
	for _, ch := range charts {
		name := "images/" + ch.Name + ".svg"
		fmt.Fprintf(&b, "![%s](%s)\n\n", ch.Title, name)
		files = append(files, report.File{Name: name, Data: ch.SVG()})
	}
	b.WriteString("\n## Scaling fits\n\n")
	r.fitTable(true).markdown(&b)
	for _, n := range r.Notes {
		b.WriteString("\n" + n + "\n")
	}
	return append([]report.File{{Name: MarkdownName, Data: b.Bytes()}}, files...)
}

// HTML renders the report as one self-contained page, charts inline.
func HTML(r *Report) []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(header(r)) + "</title>\n")
	b.WriteString(`<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}</style></head><body>` + "\n")
	b.WriteString("<h1>" + esc(header(r)) + "</h1>\n")
	b.WriteString(HTMLBody(r))
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// HTMLBody renders the report's tables and charts as an HTML fragment, for
// a page of the web UI.
func HTMLBody(r *Report) string {
	var b bytes.Buffer
	htmlTable := func(t table) {
		b.WriteString("<table><tr>")
		for _, h := range t.head {
			b.WriteString("<th>" + esc(h) + "</th>")
		}
		b.WriteString("</tr>\n")
		for _, row := range t.rows {
			b.WriteString("<tr>")
			for _, c := range row {
				b.WriteString("<td>" + esc(c) + "</td>")
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("<h2>Cells (µs per request)</h2>\n")
	htmlTable(r.cellTable())
	if t, ok := r.sideTable(); ok {
		b.WriteString("<h2>Endpoints side by side (µs per request)</h2>\n")
		htmlTable(t)
	}
	for _, ch := range Charts(r) {
		b.WriteString("<figure>")
		b.Write(ch.SVG())
		b.WriteString("</figure>\n")
	}
	b.WriteString("<h2>Scaling fits</h2>\n")
	htmlTable(r.fitTable(true))
	for _, n := range r.Notes {
		b.WriteString("<p>" + esc(n) + "</p>\n")
	}
	return b.String()
}

// Render renders the report in a format: "json", "md" or "html".
func Render(r *Report, format string) ([]report.File, error) {
	switch format {
	case "", "json":
		b, err := JSON(r)
		if err != nil {
			return nil, err
		}
		return []report.File{{Name: JSONName, Data: b}}, nil
	case "md":
		return Markdown(r), nil
	case "html":
		return []report.File{{Name: HTMLName, Data: HTML(r)}}, nil
	}
	return nil, fmt.Errorf("%w %q: want json, md or html", ErrUnknownFormat, format)
}
