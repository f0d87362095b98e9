// Package categories is the categories analyzer: device op time by category.
package categories

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer sums a capture's device op time by category (see ops.Category):
// XLA's hlo_category ("convolution fusion", "loop fusion", "copy-done",
// "all-reduce", ...), kineto's kernel, gpu_memcpy and gpu_memset, or
// "unknown".
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "categories",
		Title:       "Device time by category",
		Version:     figure.Version,
		Description: "Device op time by category: XLA's hlo_category (convolution fusion, loop fusion, copy-done, all-reduce, ...) or the PyTorch kind (kernel, gpu_memcpy, gpu_memset).",
		Order:       25,
	}
}

var columns = []sdk.Column{
	{Key: "category", Label: "Category"},
	{Key: "total_us", Label: "Total", Unit: "us"},
	{Key: "pct", Label: "% of device op time", Unit: "%"},
}

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	groups, total := ops.Sum(in.Capture, func(op ops.Op) string { return op.Category })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b ops.Group[string]) int {
		return figure.ByTotal(figure.Total{Name: a.Key, PS: a.Total}, figure.Total{Name: b.Key, PS: b.Total})
	})
	s := &sdk.Section{
		Name:    "categories",
		Title:   "Device time by category",
		Columns: columns,
		Rows:    make([]sdk.Row, 0, len(groups)),
		Summary: []sdk.Metric{
			{Key: "device_op_us", Label: "Device op time", Value: figure.US(total), Unit: "us"},
			{Key: "categories", Label: "Categories", Value: float64(len(groups))},
		},
	}
	for _, g := range groups {
		s.Rows = append(s.Rows, sdk.Row{"category": g.Key, "total_us": figure.US(g.Total), "pct": figure.Pct(g.Total, total)})
	}
	s.Charts = []sdk.Chart{figure.TopBars("Device op time by category", groups, func(g ops.Group[string]) sdk.Bar {
		return sdk.Bar{Label: g.Key, Value: figure.US(g.Total)}
	})}
	if len(groups) == 0 {
		s.Notes = append(s.Notes, figure.NoDeviceOps(in.Capture))
		return s, nil
	}
	s.Notes = append(s.Notes, "Categories are XLA's (the hlo_category stat) or, for PyTorch traces, the kind of device work (kernel, gpu_memcpy, gpu_memset).")
	if i := slices.IndexFunc(groups, func(g ops.Group[string]) bool { return g.Key == ops.UnknownCategory }); i >= 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%s (%.1f%%) is ops the capture gives no category: XLA on GPU and older XLA versions do not record hlo_category.",
			ops.UnknownCategory, figure.Pct(groups[i].Total, total)))
	}
	return s, nil
}
