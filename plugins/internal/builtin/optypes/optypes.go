// Package optypes is the op_types analyzer: device op time by op type.
package optypes

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer sums a capture's device op time by op type (the part of the tf_op
// stat after its last ':', see ops.FrameworkOp).
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "op_types",
		Title:       "Device op types",
		Version:     figure.Version,
		Description: "Device op time by op type (dot_general, pallas_call, ...) and its share of all device op time.",
		Order:       20,
	}
}

var columns = []sdk.Column{
	{Key: "type", Label: "Op type"},
	{Key: "total_us", Label: "Total", Unit: "us"},
	{Key: "pct", Label: "% of device op time", Unit: "%"},
}

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	groups, total := ops.Sum(in.Capture, func(op ops.Op) string { return op.Type })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b ops.Group[string]) int {
		return figure.ByTotal(figure.Total{Name: a.Key, PS: a.Total}, figure.Total{Name: b.Key, PS: b.Total})
	})
	s := &sdk.Section{
		Name:    "op_types",
		Title:   "Device op types",
		Columns: columns,
		Rows:    make([]sdk.Row, 0, len(groups)),
		Summary: []sdk.Metric{
			{Key: "device_op_us", Label: "Device op time", Value: figure.US(total), Unit: "us"},
			{Key: "types", Label: "Op types", Value: float64(len(groups))},
		},
	}
	for _, g := range groups {
		s.Rows = append(s.Rows, sdk.Row{"type": g.Key, "total_us": figure.US(g.Total), "pct": figure.Pct(g.Total, total)})
	}
	s.Charts = []sdk.Chart{figure.TopBars("Device op time by op type", groups, func(g ops.Group[string]) sdk.Bar {
		return sdk.Bar{Label: g.Key, Value: figure.US(g.Total)}
	})}
	if len(groups) == 0 {
		s.Notes = append(s.Notes, "The capture has no device op events: device tracing was probably off (set device_tracer_level=1).")
		return s, nil
	}
	if i := slices.IndexFunc(groups, func(g ops.Group[string]) bool { return g.Key == ops.UnknownType }); i >= 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%s (%.1f%%) is ops with no framework op type: XLA's control flow (while, conditional), copies and fusions it made itself, or GPU kernels with no tf_op stat.",
			ops.UnknownType, figure.Pct(groups[i].Total, total)))
	}
	return s, nil
}
