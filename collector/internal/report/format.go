package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

// How the built-in sections are shown: how many rows, and each number
// column's precision, as the seed report printed them (top ops to 0.001 us
// and 0.01 %, op types, categories and components to 0.1, host events in
// ms; the roofline's rates to a useful precision).
var layouts = map[string]layout{
	"top_ops":    {rows: 10, cols: map[string]colFormat{"total_us": {digits: 3}, "avg_us": {digits: 3}, "pct": {digits: 2}}},
	"op_types":   {rows: 10, cols: map[string]colFormat{"total_us": {digits: 1}, "pct": {digits: 1}}},
	"categories": {rows: 50, cols: map[string]colFormat{"total_us": {digits: 1}, "pct": {digits: 1}}},
	"components": {rows: 50, cols: map[string]colFormat{"total_us": {digits: 1}, "pct": {digits: 1}}},
	"roofline": {rows: 30, cols: map[string]colFormat{"total_us": {digits: 1}, "gflop": {digits: 3}, "gbyte": {digits: 3},
		"tflops_per_s": {digits: 3}, "gbytes_per_s": {digits: 1}, "intensity": {digits: 2}, "pct_peak_flops": {digits: 1}, "pct_peak_bw": {digits: 1}}},
	"idle":        {rows: 50, cols: map[string]colFormat{"span_us": {digits: 1}, "busy_us": {digits: 1}, "idle_us": {digits: 1}, "idle_pct": {digits: 2}}},
	"host_events": {rows: 10, cols: map[string]colFormat{"total_us": {digits: 3, ms: true}, "self_us": {digits: 3, ms: true}}},
	"requests":    {rows: 50},
}

// defaultLayout is for sections the report does not know.
var defaultLayout = layout{rows: 20}

// htmlRows is how many rows the HTML page lists under "all rows".
const htmlRows = 500

type layout struct {
	// rows is how many rows the main table shows.
	rows int
	// cols are number formats by column key.
	cols map[string]colFormat
}

type colFormat struct {
	// digits after the point.
	digits int
	// ms shows a "us" column in milliseconds.
	ms bool
}

func layoutOf(section string) layout {
	if l, ok := layouts[section]; ok {
		return l
	}
	return defaultLayout
}

// format returns how a column's values are shown: 3 decimals for µs, 2 for
// percentages, unless the layout says otherwise.
func (l layout) format(c sdk.Column) colFormat {
	if f, ok := l.cols[c.Key]; ok {
		return f
	}
	if c.Unit == "%" {
		return colFormat{digits: 2}
	}
	return colFormat{digits: 3}
}

// header is a column's heading with its unit.
func (l layout) header(c sdk.Column) string {
	label := c.Label
	if label == "" {
		label = c.Key
	}
	unit := c.Unit
	switch {
	case unit == "us" && l.format(c).ms:
		unit = "ms"
	case unit == "us":
		unit = numfmt.Micro
	}
	switch {
	case unit == "", unit == "%" && strings.Contains(label, "%"), strings.HasSuffix(label, "("+unit+")"):
		return label
	default:
		return label + " (" + unit + ")"
	}
}

// cell formats one value of a column.
func (l layout) cell(c sdk.Column, v any) string {
	f := l.format(c)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		if c.Unit == "" {
			return numfmt.Int(x)
		}
		return l.cell(c, float64(x))
	case int:
		return l.cell(c, int64(x))
	case float64:
		switch c.Unit {
		case "%":
			return numfmt.Pct(x, f.digits)
		case "us":
			if f.ms {
				x /= 1000
			}
			return numfmt.Fixed(x, f.digits)
		case "":
			if _, ok := l.cols[c.Key]; ok { // a layout's precision for a plain number
				return numfmt.Fixed(x, f.digits)
			}
			return numfmt.Value(x, "")
		}
		return numfmt.Fixed(x, f.digits)
	default:
		return fmt.Sprint(x)
	}
}

// Number reads a value of a section's row (sdk.Row) as a float64: a number
// of any kind, json.Number included, else 0.
func Number(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return 0
}

// pct formats a percentage (numfmt.Pct).
func pct(v float64, digits int) string { return numfmt.Pct(v, digits) }

// metric formats a summary figure.
func metric(m sdk.Metric) string {
	switch m.Unit {
	case "us":
		return numfmt.Micros(m.Value)
	case "%":
		return numfmt.Pct(m.Value, 2)
	case "":
		if m.Value == math.Trunc(m.Value) && math.Abs(m.Value) < 1e15 {
			return numfmt.Int(int64(m.Value))
		}
		return strconv.FormatFloat(m.Value, 'g', 6, 64)
	default:
		return strconv.FormatFloat(m.Value, 'g', 6, 64) + " " + m.Unit
	}
}

// micros formats µs for people (numfmt.Micros).
func micros(us float64) string { return numfmt.Micros(us) }

// group puts thousands separators in the integer part of a decimal.
func group(s string) string { return numfmt.Group(s) }

// count formats an integer for people.
func count(n int64) string { return numfmt.Int(n) }
