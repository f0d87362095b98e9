// Package optypes is the op_types analyzer: device op time by op type.
package optypes

import (
	"context"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer sums a capture's device op time by op type, as xprof names it
// (see ops.FrameworkOp): the JAX primitive or TensorFlow op type of XLA's
// tf_op, or the PyTorch op that launched a kernel.
type Analyzer struct{}

var breakdown = figure.Breakdown{
	Name: "op_types", Title: "Device op types",
	Key: "type", KeyLabel: "Op type",
	Count: "types", CountLabel: "Op types",
	Chart: "Device op time by op type",

	Order:       20,
	Description: "Device op time by op type (dot_general, pallas_call, ...) and its share of all device op time.",
}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info { return breakdown.Info() }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	return breakdown.Analyze(ctx, in.Capture, func(op ops.Op) string { return op.Type }, notes)
}

// notes says what the ops with no op type are, when there are any.
func notes(groups []ops.Group[string], total int64) []string {
	pct, ok := figure.Share(groups, total, ops.UnknownType)
	if !ok {
		return nil
	}
	return []string{fmt.Sprintf("%s (%.1f%%) is ops with no framework op type: XLA's copies, control flow (while, conditional) and fusions it made itself, GPU kernels with no tf_op, or PyTorch kernels no framework op is known to have launched. The categories and components sections say what they are.",
		ops.UnknownType, pct)}
}
