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

// Analyzer sums a capture's device op time by op type, as xprof names it
// (see ops.FrameworkOp): the JAX primitive or TensorFlow op type of XLA's
// tf_op, or the PyTorch op that launched a kernel.
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
		s.Notes = append(s.Notes, figure.NoDeviceOps(in.Capture))
		return s, nil
	}
	if i := slices.IndexFunc(groups, func(g ops.Group[string]) bool { return g.Key == ops.UnknownType }); i >= 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%s (%.1f%%) is ops with no framework op type: XLA's copies, control flow (while, conditional) and fusions it made itself, GPU kernels with no tf_op, or PyTorch kernels no framework op is known to have launched. The categories and components sections say what they are.",
			ops.UnknownType, figure.Pct(groups[i].Total, total)))
	}
	return s, nil
}
