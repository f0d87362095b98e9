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

// Analyzer groups a capture's device ops by framework operation (from the
// tf_op stat, see ops.FrameworkOp) and ranks them by total time.
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "top_ops",
		Title:       "Top device ops",
		Version:     figure.Version,
		Description: "Device op time by framework operation: occurrences, total, average and share of all device op time.",
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
}

type key struct{ operation, typ string }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var untagged, events int64
	devices := make(map[string]bool)
	groups, total := ops.Sum(in.Capture, func(op ops.Op) key {
		events++
		devices[op.Plane.Name] = true
		if _, ok := op.Event.Stat(ops.StatName); !ok {
			untagged++
		}
		return key{op.Operation, op.Type}
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
	s := &sdk.Section{
		Name:    "top_ops",
		Title:   "Top device ops",
		Columns: columns,
		Rows:    make([]sdk.Row, 0, len(shown)),
		Summary: []sdk.Metric{
			{Key: "device_op_us", Label: "Device op time", Value: figure.US(total), Unit: "us"},
			{Key: "device_op_events", Label: "Device op events", Value: float64(events)},
			{Key: "operations", Label: "Distinct operations", Value: float64(len(groups))},
			{Key: "devices", Label: "Devices", Value: float64(len(devices))},
		},
	}
	for _, g := range shown {
		s.Rows = append(s.Rows, sdk.Row{
			"type":        g.Key.typ,
			"operation":   g.Key.operation,
			"occurrences": g.Count,
			"total_us":    figure.US(g.Total),
			"avg_us":      figure.Avg(g.Total, g.Count),
			"pct":         figure.Pct(g.Total, total),
		})
	}
	s.Charts = []sdk.Chart{figure.TopBars("Top device ops by total time", shown, func(g ops.Group[key]) sdk.Bar {
		return sdk.Bar{Label: g.Key.typ + ": " + g.Key.operation, Value: figure.US(g.Total)}
	})}
	if len(groups) == 0 {
		s.Notes = append(s.Notes, "The capture has no device op events: device tracing was probably off (set device_tracer_level=1).")
		return s, nil
	}
	s.Notes = append(s.Notes, fmt.Sprintf("%% is of the summed duration of all %d device op events (%.3f us)%s.",
		events, figure.US(total), severalDevices(len(devices))))
	if untagged > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d op events have no tf_op stat (XLA's own control flow, copies, fusions): they are listed under their HLO name with type %s.", untagged, ops.UnknownType))
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
