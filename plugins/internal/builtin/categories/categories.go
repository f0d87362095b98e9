// Package categories is the categories analyzer: device op time by category.
package categories

import (
	"context"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer sums a capture's device op time by category (see ops.Category):
// XLA's hlo_category ("convolution fusion", "loop fusion", "copy-done",
// "all-reduce", ...), kineto's kernel, gpu_memcpy and gpu_memset, or
// "unknown".
type Analyzer struct{}

var breakdown = figure.Breakdown{
	Name: "categories", Title: "Device time by category",
	Key: "category", KeyLabel: "Category",
	Count: "categories", CountLabel: "Categories",
	Chart: "Device op time by category",

	Order:       25,
	Description: "Device op time by category: XLA's hlo_category (convolution fusion, loop fusion, copy-done, all-reduce, ...) or the PyTorch kind (kernel, gpu_memcpy, gpu_memset).",
}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info { return breakdown.Info() }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	return breakdown.Analyze(ctx, in.Capture, func(op ops.Op) string { return op.Category }, notes)
}

// notes says where the categories come from and, when there are any, what
// the ops with no category are.
func notes(groups []ops.Group[string], total int64) []string {
	notes := []string{"Categories are XLA's (the hlo_category stat) or, for PyTorch traces, the kind of device work (kernel, gpu_memcpy, gpu_memset)."}
	if pct, ok := figure.Share(groups, total, ops.UnknownCategory); ok {
		notes = append(notes, fmt.Sprintf("%s (%.1f%%) is ops the capture gives no category: XLA on GPU and older XLA versions do not record hlo_category.",
			ops.UnknownCategory, pct))
	}
	return notes
}
