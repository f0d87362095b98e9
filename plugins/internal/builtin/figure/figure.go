// Package figure holds what the built-in analyzers share: exact conversions
// from integer picoseconds to report figures, and the shape of their rows
// and bar charts.
package figure

import (
	"cmp"
	"context"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Version is the version of every built-in analyzer.
const Version = "1.1.0"

// Bars is how many bars a built-in bar chart shows.
const Bars = 10

// MaxRows bounds a built-in section's table; what is left out is summed in a
// note.
const MaxRows = 20000

// US converts picoseconds to microseconds, dividing once.
func US(ps int64) float64 { return float64(ps) / float64(capture.Microsecond) }

// Pct returns part as a percentage of whole, 0 when whole is 0.
func Pct(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// Avg returns the mean of count values summing to total picoseconds, in
// microseconds, 0 when count is 0.
func Avg(total, count int64) float64 {
	if count == 0 {
		return 0
	}
	return float64(total) / float64(count) / float64(capture.Microsecond)
}

// Total is a named figure in picoseconds, for sorting.
type Total struct {
	// Name is the row's name, the tie-breaker.
	Name string
	// PS is the figure.
	PS int64
}

// ByTotal orders by PS descending, then by Name ascending: the order of every
// built-in table.
func ByTotal(a, b Total) int {
	if c := cmp.Compare(b.PS, a.PS); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// TopBars returns a bar chart of the first Bars items of a sorted slice.
func TopBars[T any](title string, items []T, bar func(T) sdk.Bar) sdk.Chart {
	ch := sdk.Chart{Kind: "bar", Title: title, Unit: "us"}
	for _, it := range items[:min(len(items), Bars)] {
		ch.Bars = append(ch.Bars, bar(it))
	}
	return ch
}

// Cut keeps the first MaxRows items of a sorted slice and returns how many
// were left out.
func Cut[T any](items []T) ([]T, int) {
	if len(items) <= MaxRows {
		return items, 0
	}
	return slices.Clip(items[:MaxRows]), len(items) - MaxRows
}

// Duration formats picoseconds for a label, in whichever of µs, ms and s
// reads best, to three decimals: "453.051 µs", "1.162 ms", "5.045 s"
// (numfmt.Duration, as the reports, the CLI and the web UI print times).
func Duration(ps int64) string { return numfmt.Duration(ps) }

// NoDeviceOps is the note a device analyzer gives a capture with no device
// op events: which kind of trace it is and what would have recorded device
// work.
func NoDeviceOps(c *capture.Capture) string {
	if isKineto(c) {
		return "The capture has no device op events: it is a PyTorch profiler (kineto) trace with no GPU activity. Profile with activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA] to record kernels, copies and memsets."
	}
	return "The capture has no device op events: device tracing was off. With JAX/XLA (sglang-jax, vLLM TPU) set device_tracer_level=1 in the profiler options; with TensorFlow, tf.profiler.experimental.ProfilerOptions(device_tracer_level=1)."
}

// isKineto reports whether a capture was read from a PyTorch (kineto)
// trace: the trace JSON reader gives kineto events a cat stat.
func isKineto(c *capture.Capture) bool {
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			for i := range l.Events {
				if _, ok := l.Events[i].Stat(ops.CatStat); ok {
					return true
				}
			}
		}
	}
	return false
}

// Breakdown describes an analyzer whose section sums device op time by one
// key (op type, category, component): one row per key, largest first, with
// its total and share, a bar chart and the count of keys.
type Breakdown struct {
	// Name and Title are the analyzer's and its section's.
	Name, Title string
	// Description and Order are the analyzer's (see sdk.Info).
	Description string
	Order       int
	// Key and KeyLabel name the row key's column ("type", "Op type").
	Key, KeyLabel string
	// Count and CountLabel name the summary metric counting the keys
	// ("types", "Op types").
	Count, CountLabel string
	// Chart is the bar chart's title.
	Chart string
}

// Info returns the analyzer's sdk.Info, at Version.
func (b Breakdown) Info() sdk.Info {
	return sdk.Info{
		Name:        b.Name,
		Title:       b.Title,
		Version:     Version,
		Description: b.Description,
		Order:       b.Order,
	}
}

// Analyze is the analyzer's Analyze over the capture c: the Section of c's
// device ops summed by key and, when there are any, the notes that notes
// (if not nil) makes of the sums. It returns ctx's error if ctx has ended
// before or after the summing.
func (b Breakdown) Analyze(ctx context.Context, c *capture.Capture, key func(ops.Op) string, notes func(groups []ops.Group[string], total int64) []string) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, groups, total := b.Section(c, key)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(groups) > 0 && notes != nil {
		s.Notes = append(s.Notes, notes(groups, total)...)
	}
	return s, nil
}

// Section sums the capture's device ops by key into a section. With no
// device ops it holds no rows and a note saying why; the caller adds its
// own notes otherwise. groups and total are the sums, largest first, for
// notes of the caller's.
func (b Breakdown) Section(c *capture.Capture, key func(ops.Op) string) (s *sdk.Section, groups []ops.Group[string], total int64) {
	groups, total = ops.Sum(c, key)
	slices.SortFunc(groups, func(x, y ops.Group[string]) int {
		return ByTotal(Total{Name: x.Key, PS: x.Total}, Total{Name: y.Key, PS: y.Total})
	})
	s = &sdk.Section{
		Name:  b.Name,
		Title: b.Title,
		Columns: []sdk.Column{
			{Key: b.Key, Label: b.KeyLabel},
			{Key: "total_us", Label: "Total", Unit: "us"},
			{Key: "pct", Label: "% of device op time", Unit: "%"},
		},
		Rows: make([]sdk.Row, 0, len(groups)),
		Summary: []sdk.Metric{
			{Key: "device_op_us", Label: "Device op time", Value: US(total), Unit: "us"},
			{Key: b.Count, Label: b.CountLabel, Value: float64(len(groups))},
		},
	}
	for _, g := range groups {
		s.Rows = append(s.Rows, sdk.Row{b.Key: g.Key, "total_us": US(g.Total), "pct": Pct(g.Total, total)})
	}
	s.Charts = []sdk.Chart{TopBars(b.Chart, groups, func(g ops.Group[string]) sdk.Bar {
		return sdk.Bar{Label: g.Key, Value: US(g.Total)}
	})}
	if len(groups) == 0 {
		s.Notes = append(s.Notes, NoDeviceOps(c))
	}
	return s, groups, total
}

// Share returns the share of the group with the given key, in percent, and
// whether there is one.
func Share(groups []ops.Group[string], total int64, key string) (float64, bool) {
	i := slices.IndexFunc(groups, func(g ops.Group[string]) bool { return g.Key == key })
	if i < 0 {
		return 0, false
	}
	return Pct(groups[i].Total, total), true
}
