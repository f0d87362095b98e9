// Package topops is the top_ops analyzer: device op time by framework op.
package topops

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer groups a capture's device ops by (operation, op type), as xprof's
// framework op statistics name them (see ops.FrameworkOp), and ranks them by
// total time. The same kernel launched by two framework ops is two rows.
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "top_ops",
		Title:       "Top device ops",
		Version:     figure.Version,
		Description: "Device op time by operation and op type, as xprof names them: category, occurrences, total, average and share of all device op time.",
		Order:       10,
	}
}

// Columns are the keys of the section's rows.
var columns = []sdk.Column{
	{Key: "type", Label: "Op type"},
	{Key: "operation", Label: "Operation"},
	{Key: "occurrences", Label: "Occurrences"},
	{Key: "total_us", Label: "Total", Unit: "us"},
	{Key: "avg_us", Label: "Avg", Unit: "us"},
	{Key: "pct", Label: "% of device op time", Unit: "%"},
	{Key: "category", Label: "Category"},
	{Key: "xla_op_name", Label: "XLA op name (HLO metadata)"},
}

type key struct{ operation, typ string }

// categories remembers, per row, the time of each category its ops have:
// a row shows the category with the most time.
type categories map[key]map[string]int64

func (cs categories) add(k key, category string, ps int64) {
	m := cs[k]
	if m == nil {
		m = make(map[string]int64, 1)
		cs[k] = m
	}
	m[category] += ps
}

// of returns the category of a row: the one with the most time, ties by name.
func (cs categories) of(k key) string {
	var best string
	var bestPS int64 = -1
	for c, ps := range cs[k] {
		if ps > bestPS || ps == bestPS && c < best {
			best, bestPS = c, ps
		}
	}
	return best
}

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var untyped, events int64
	devices := make(map[string]bool)
	cats := make(categories)
	xlaNames := make(map[key]string)
	groups, total := ops.Sum(in.Capture, func(op ops.Op) key {
		events++
		devices[op.Plane.Name] = true
		if op.Type == ops.UnknownType {
			untyped++
		}
		k := key{op.Operation, op.Type}
		cats.add(k, op.Category, op.Event.Dur)
		if _, ok := xlaNames[k]; !ok {
			if n, ok := ops.StatString(op.Event, ops.XLAOpNameStat); ok && n != "" {
				xlaNames[k] = n
			}
		}
		return k
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b ops.Group[key]) int {
		if c := figure.ByTotal(figure.Total{Name: a.Key.operation, PS: a.Total}, figure.Total{Name: b.Key.operation, PS: b.Total}); c != 0 {
			return c
		}
		return cmp.Compare(a.Key.typ, b.Key.typ)
	})
	shown, cut := figure.Cut(groups)
	cols := columns
	if len(xlaNames) == 0 {
		cols = columns[:len(columns)-1] // no capture-carried HLO names: no column
	}
	s := &sdk.Section{
		Name:    "top_ops",
		Title:   "Top device ops",
		Columns: cols,
		Rows:    make([]sdk.Row, 0, len(shown)),
		Summary: []sdk.Metric{
			{Key: "device_op_us", Label: "Device op time", Value: figure.US(total), Unit: "us"},
			{Key: "device_op_events", Label: "Device op events", Value: float64(events)},
			{Key: "operations", Label: "Distinct operations", Value: float64(len(groups))},
			{Key: "devices", Label: "Devices", Value: float64(len(devices))},
		},
	}
	for _, g := range shown {
		row := sdk.Row{
			"type":        g.Key.typ,
			"operation":   g.Key.operation,
			"category":    cats.of(g.Key),
			"occurrences": g.Count,
			"total_us":    figure.US(g.Total),
			"avg_us":      figure.Avg(g.Total, g.Count),
			"pct":         figure.Pct(g.Total, total),
		}
		if len(xlaNames) > 0 {
			row["xla_op_name"] = xlaNames[g.Key]
		}
		s.Rows = append(s.Rows, row)
	}
	s.Charts = []sdk.Chart{figure.TopBars("Top device ops by total time", shown, func(g ops.Group[key]) sdk.Bar {
		return sdk.Bar{Label: g.Key.typ + ": " + g.Key.operation, Value: figure.US(g.Total)}
	})}
	if len(groups) == 0 {
		s.Notes = append(s.Notes, figure.NoDeviceOps(in.Capture))
		return s, nil
	}
	s.Notes = append(s.Notes, fmt.Sprintf("%% is of the summed duration of all %d device op events (%.3f us)%s.",
		events, figure.US(total), severalDevices(len(devices))))
	if untyped > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d op events have no framework op (XLA's own copies, control flow and fusions; GPU kernels no framework op is known to have launched): they are listed under their HLO instruction or kernel name with type %s, and the category column says what they are.", untyped, ops.UnknownType))
	}
	if len(xlaNames) > 0 {
		s.Notes = append(s.Notes, "The XLA op name column is the op_name XLA recorded in each instruction's metadata, from the HLO modules the capture carries (as xprof shows it); the operation column follows tf_op and hlo_op.")
	}
	if cut > 0 {
		var rest int64
		for _, g := range groups[len(shown):] {
			rest += g.Total
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%d more operations (%.3f us) are not listed.", cut, figure.US(rest)))
	}
	return s, nil
}

func severalDevices(n int) string {
	if n < 2 {
		return ""
	}
	return fmt.Sprintf(", summed over %d devices", n)
}
