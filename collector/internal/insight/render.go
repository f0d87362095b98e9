package insight

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fleetprof/fleetprof/collector/internal/report"
)

// MaxChartHosts bounds the bars of a fleet chart: every outlier, then the
// other hosts by agent id.
const MaxChartHosts = 100

// MaxChartSeries bounds the host lines of a trend chart (the median is
// always drawn).
const MaxChartSeries = 12

// unitOf names the unit of normalised times.
func unitOf(per string) string {
	if per == PerRequest {
		return "µs per request"
	}
	return "µs per second profiled"
}

// us formats a time in µs with three decimals.
func us(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// componentOrder lists a fleet's components by their median, largest first.
func componentOrder(r *FleetReport) []string {
	names := slices.Collect(maps.Keys(r.Aggregates.Components))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Aggregates.Components[b].Median, r.Aggregates.Components[a].Median), cmp.Compare(a, b))
	})
	return names
}

// FleetChart is the fleet's per-host stacked bars: each host's components,
// normalised like the report, outliers highlighted. Past MaxChartHosts
// hosts it keeps the outliers, then the others by agent id.
func FleetChart(r *FleetReport) report.Stacked {
	comps := componentOrder(r)
	ch := report.Stacked{Title: "Device op time by component (" + unitOf(r.Per) + ")", Unit: "us", Series: comps}
	if len(comps) == 0 {
		ch.Series = []string{"device ops"}
	}
	var chosen []int
	for i, h := range r.Hosts {
		if h.Outlier {
			chosen = append(chosen, i)
		}
	}
	for i, h := range r.Hosts {
		if len(chosen) >= MaxChartHosts {
			break
		}
		if !h.Outlier {
			chosen = append(chosen, i)
		}
	}
	slices.Sort(chosen)
	for _, i := range chosen {
		h := r.Hosts[i]
		bar := report.StackedBar{Label: h.AgentID, Highlight: h.Outlier}
		if len(comps) == 0 {
			bar.Values = []float64{h.Normalized}
		}
		for _, c := range comps {
			v, _ := h.component(c)
			bar.Values = append(bar.Values, v)
		}
		ch.Bars = append(ch.Bars, bar)
	}
	return ch
}

// component returns a component's time on host h normalised like the
// report, and whether the host lists it.
func (h *HostRow) component(name string) (float64, bool) {
	v, ok := h.Components[name]
	if !ok || h.DeviceOpUS <= 0 || h.Normalized <= 0 {
		return 0, ok
	}
	return v / (h.DeviceOpUS / h.Normalized), true
}

// componentCell formats a normalised component time, "-" when unknown.
func (h *HostRow) componentCell(name string) string {
	if v, ok := h.component(name); ok {
		return us(v)
	}
	return "-"
}

// outlierLine describes an outlier in one line.
func outlierLine(o Outlier) string {
	ratio := "n/a"
	if o.Median != 0 {
		ratio = fmt.Sprintf("%.2f×", o.Ratio)
	}
	s := fmt.Sprintf("%s (%s) %s %s: %s vs fleet median %s (%s)", o.AgentID, o.CaptureID, o.Direction, o.Metric, us(o.Value), us(o.Median), ratio)
	var ops []string
	for _, op := range o.Ops {
		ops = append(ops, fmt.Sprintf("%s %+.3f", op.Operation, op.Delta))
	}
	if len(ops) > 0 && !strings.HasPrefix(o.Metric, OpPrefix) {
		s += "; ops: " + strings.Join(ops, ", ")
	}
	return s
}

// Escaper makes one cell of text safe to print (a newline in a host name
// would forge a row). Nil means as is.
type Escaper func(string) string

// or returns e, or the identity when e is nil.
func (e Escaper) or() Escaper {
	if e == nil {
		return func(s string) string { return s }
	}
	return e
}

// WriteFleetText writes a fleet report as text tables, every cell through
// esc.
func WriteFleetText(w io.Writer, r *FleetReport, esc Escaper) error {
	esc = esc.or()
	fmt.Fprintf(w, "Fleet capture %s: %d hosts, times in %s\n\n", esc(r.FleetID), len(r.Hosts), unitOf(r.Per))
	comps := componentOrder(r)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"AGENT", "HOST", "CAPTURE", "SPAN", "IDLE %", "REQUESTS", "DEVICE OP (TOTAL)", "DEVICE OP"}
	for _, c := range comps {
		head = append(head, strings.ToUpper(esc(c)))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for i := range r.Hosts {
		h := &r.Hosts[i]
		agent := h.AgentID
		if h.Outlier {
			agent += " *"
		}
		row := []string{esc(agent), esc(h.Host), esc(h.CaptureID), fmt.Sprintf("%.3f s", h.SpanUS/1e6), fmt.Sprintf("%.2f", h.IdlePct),
			strconv.FormatInt(h.Requests, 10), us(h.DeviceOpUS) + " µs", us(h.Normalized)}
		for _, c := range comps {
			row = append(row, h.componentCell(c))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFleet (%s): median / p90 / max\n", unitOf(r.Per))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	agg := func(name string, s Stats) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", esc(name), us(s.Median), us(s.P90), us(s.Max))
	}
	agg("device op time", r.Aggregates.DeviceOpUS)
	for _, c := range comps {
		agg("component "+c, r.Aggregates.Components[c])
	}
	for _, op := range opOrder(r) {
		agg("op "+op, r.Aggregates.Ops[op])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(r.Outliers) > 0 {
		fmt.Fprintf(w, "Outliers (* above; rule: %s):\n", r.Rule)
		for _, o := range r.Outliers {
			fmt.Fprintln(w, "  "+esc(outlierLine(o)))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, esc(n))
	}
	return nil
}

// opOrder lists a fleet's aggregated ops by median, largest first.
func opOrder(r *FleetReport) []string {
	names := slices.Collect(maps.Keys(r.Aggregates.Ops))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Aggregates.Ops[b].Median, r.Aggregates.Ops[a].Median), cmp.Compare(a, b))
	})
	return names
}

// FleetChartFile is the fleet chart's file beside fleet.md.
const FleetChartFile = "images/fleet.svg"

// FleetMarkdown renders a fleet report as fleet.md and its chart.
func FleetMarkdown(r *FleetReport) []report.File {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fleet capture %s\n\n", md(r.FleetID))
	fmt.Fprintf(&b, "%d hosts; times in %s.\n\n", len(r.Hosts), unitOf(r.Per))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> %s\n\n", md(n))
	}
	if len(r.Outliers) > 0 {
		fmt.Fprintf(&b, "## Outliers\n\nRule: %s.\n\n", md(r.Rule))
		for _, o := range r.Outliers {
			fmt.Fprintf(&b, "- **%s** %s\n", md(o.AgentID), md(strings.TrimPrefix(outlierLine(o), o.AgentID+" ")))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "![Device op time by component](%s)\n\n", FleetChartFile)
	comps := componentOrder(r)
	b.WriteString("## Hosts\n\nDevice op (total) is over the whole capture; the other times are in " + unitOf(r.Per) + ".\n\n")
	b.WriteString("| Agent | Host | Capture | Span | Idle % | Requests | Device op (total) | Device op |")
	for _, c := range comps {
		fmt.Fprintf(&b, " %s |", md(c))
	}
	b.WriteString("\n|---|---|---|---:|---:|---:|---:|---:|" + strings.Repeat("---:|", len(comps)) + "\n")
	for i := range r.Hosts {
		h := &r.Hosts[i]
		agent := md(h.AgentID)
		if h.Outlier {
			agent = "**" + agent + "** (outlier)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.3f s | %.2f | %d | %s µs | %s |", agent, md(h.Host), md(h.CaptureID), h.SpanUS/1e6, h.IdlePct, h.Requests, us(h.DeviceOpUS), us(h.Normalized))
		for _, c := range comps {
			fmt.Fprintf(&b, " %s |", h.componentCell(c))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Fleet aggregates (" + unitOf(r.Per) + ")\n\n| Figure | Median | p90 | Max |\n|---|---:|---:|---:|\n")
	row := func(name string, s Stats) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md(name), us(s.Median), us(s.P90), us(s.Max))
	}
	row("device op time", r.Aggregates.DeviceOpUS)
	for _, c := range comps {
		row("component "+c, r.Aggregates.Components[c])
	}
	for _, op := range opOrder(r) {
		row("op "+op, r.Aggregates.Ops[op])
	}
	return []report.File{
		{Name: "fleet.md", Data: []byte(b.String())},
		{Name: FleetChartFile, Data: report.StackedSVG(FleetChart(r))},
	}
}

// md escapes text for a Markdown table cell or line.
func md(s string) string {
	r := strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "`", "\\`", "[", `\[`, "]", `\]`, "\n", " ")
	return r.Replace(s)
}

// WriteTrendText writes a trend as a table, one row per capture, every cell
// through esc.
func WriteTrendText(w io.Writer, t *Trend, esc Escaper) error {
	esc = esc.or()
	unit := unitOf(t.Per)
	if t.Metric == MetricIdlePct {
		unit = "%"
	}
	fmt.Fprintf(w, "%s (%s)\n", esc(t.Metric), unit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tAGENT\tCAPTURE\tVALUE\t")
	type row struct {
		p     Point
		agent string
	}
	var rows []row
	for _, s := range t.Series {
		for _, p := range s.Points {
			rows = append(rows, row{p, s.AgentID})
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.p.Time.Compare(b.p.Time) })
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.p.Time.Format("2006-01-02 15:04:05"), esc(r.agent), esc(r.p.CaptureID), us(r.p.Value))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.Median) > 0 {
		fmt.Fprintln(w, "\nFleet median")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME (UTC)\tFLEET CAPTURE\tHOSTS\tMEDIAN\t")
		for _, m := range t.Median {
			fleet := m.FleetID
			if fleet == "" {
				fleet = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", m.Time.Format("2006-01-02 15:04:05"), esc(fleet), m.Hosts, us(m.Value))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if t.Skipped > 0 {
		fmt.Fprintf(w, "%d captures do not know %s (no components section, or the op outside their top ops).\n", t.Skipped, esc(t.Metric))
	}
	if t.Truncated {
		fmt.Fprintln(w, "The oldest captures were left out: narrow the query (--since, --selector).")
	}
	return nil
}

// TrendChart is a trend's line chart: the fleet median (bold) and up to
// MaxChartSeries hosts (those with the most points, then by agent id).
func TrendChart(t *Trend, title string) report.Lines {
	unit, ylabel := "us", unitOf(t.Per)
	if t.Metric == MetricIdlePct {
		unit, ylabel = "%", "idle"
	}
	ch := report.Lines{Title: title, Unit: unit, YLabel: ylabel}
	series := slices.Clone(t.Series)
	slices.SortStableFunc(series, func(a, b Series) int { return cmp.Compare(len(b.Points), len(a.Points)) })
	series = series[:min(len(series), MaxChartSeries)]
	slices.SortFunc(series, func(a, b Series) int { return cmp.Compare(a.AgentID, b.AgentID) })
	for _, s := range series {
		ls := report.LineSeries{Name: s.AgentID}
		for _, p := range s.Points {
			ls.Points = append(ls.Points, report.LinePoint{At: p.Time, Value: p.Value, Label: p.CaptureID})
		}
		ch.Series = append(ch.Series, ls)
	}
	if len(t.Series) > 1 {
		med := report.LineSeries{Name: "fleet median", Bold: true}
		for _, m := range t.Median {
			med.Points = append(med.Points, report.LinePoint{At: m.Time, Value: m.Value, Label: m.FleetID})
		}
		ch.Series = append(ch.Series, med)
	}
	return ch
}

// WriteChangesText writes regressions as a table, every cell through esc.
func WriteChangesText(w io.Writer, cs []Change, esc Escaper) error {
	esc = esc.or()
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "No regressions.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMITTED (UTC)\tAGENT\tCAPTURE\tMETRIC\tBEFORE\tAFTER\tCHANGE\tBASELINE\tOPS\t")
	for _, c := range cs {
		var ops []string
		if !strings.HasPrefix(c.Metric, OpPrefix) {
			for _, op := range c.Ops {
				ops = append(ops, esc(shortOp(op.Operation)))
			}
		}
		committed := c.Committed
		if len(committed) >= 19 {
			committed = strings.Replace(committed[:19], "T", " ", 1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%+.1f%%\t%s (%d)\t%s\t\n", esc(committed), esc(c.AgentID), esc(c.CaptureID), esc(c.Metric),
			us(c.Before), us(c.After), c.ChangePct, c.Baseline, len(c.BaselineCaptureIDs), strings.Join(ops, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Times in µs per %s.\n", cs[0].Per)
	return err
}

// shortOp shortens an op name to its last 40 characters.
func shortOp(s string) string {
	r := []rune(s)
	if len(r) <= 40 {
		return s
	}
	return "…" + string(r[len(r)-39:])
}

//go:embed fleet.html.tmpl
var fleetHTML string

// fleetPage is what fleet.html.tmpl draws.
type fleetPage struct {
	R     *FleetReport
	Unit  string
	Chart template.HTML
	Comps []string
	Rows  []fleetRow
	Aggs  []fleetAgg
}

// fleetRow is a host row with its component cells.
type fleetRow struct {
	H     HostRow
	Comps []string
}

// fleetAgg is one aggregate row.
type fleetAgg struct {
	Name string
	S    Stats
}

// FleetHTML renders a fleet report as one self-contained page: inline CSS
// and SVG, no scripts.
func FleetHTML(r *FleetReport) ([]byte, error) {
	t, err := template.New("fleet").Funcs(template.FuncMap{
		"us":    us,
		"secs":  func(v float64) string { return strconv.FormatFloat(v/1e6, 'f', 3, 64) },
		"pct":   func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
		"ratio": func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "×" },
		"delta": func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) },
	}).Parse(fleetHTML)
	if err != nil {
		return nil, fmt.Errorf("insight: parse fleet template: %w", err)
	}
	p := fleetPage{R: r, Unit: unitOf(r.Per), Comps: componentOrder(r),
		// Our own drawing: every text in it is escaped by the report package.
		Chart: template.HTML(report.StackedSVG(FleetChart(r)))}
	for i := range r.Hosts {
		h := &r.Hosts[i]
		row := fleetRow{H: *h}
		for _, c := range p.Comps {
			row.Comps = append(row.Comps, h.componentCell(c))
		}
		p.Rows = append(p.Rows, row)
	}
	p.Aggs = append(p.Aggs, fleetAgg{"device op time", r.Aggregates.DeviceOpUS})
	for _, c := range p.Comps {
		p.Aggs = append(p.Aggs, fleetAgg{"component " + c, r.Aggregates.Components[c]})
	}
	for _, op := range opOrder(r) {
		p.Aggs = append(p.Aggs, fleetAgg{"op " + op, r.Aggregates.Ops[op]})
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("insight: render fleet page: %w", err)
	}
	return b.Bytes(), nil
}
