package diff

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

const us = capture.Microsecond

// score and generate: the same model, different mixes.
func score() *capture.Capture {
	return capturetest.Capture(1e18,
		capturetest.Op{TFOp: "jit(run)/layer0/attention/dot_general:dot_general", Start: 0, Dur: 10 * us},
		capturetest.Op{TFOp: "jit(run)/layer0/mlp/dot_general:dot_general", Start: 10 * us, Dur: 20 * us},
		capturetest.Op{Name: "while.6", Start: 30 * us, Dur: 5 * us},
		capturetest.Op{TFOp: "jit(run)/layer0/attention/dot_general:dot_general", Start: 100 * us, Dur: 10 * us},
	)
}

func generate() *capture.Capture {
	return capturetest.Capture(1e18,
		capturetest.Op{TFOp: "jit(run)/layer0/attention/dot_general:dot_general", Start: 0, Dur: 15 * us},
		capturetest.Op{TFOp: "jit(run)/layer0/mlp/dot_general:dot_general", Start: 15 * us, Dur: 10 * us},
		capturetest.Op{TFOp: "jit(run)/LogitsProcessor/reduce_max:reduce_max", Start: 25 * us, Dur: 2500000},
		capturetest.Op{Name: "while.6", Start: 200 * us, Dur: 5 * us},
	)
}

func TestCompare(t *testing.T) {
	got := Compare(score(), generate(), bucket.Seed())
	idleA := 100 * float64(65*us) / float64(110*us)      // 65 of 110 µs idle
	idleB := 100 * float64(1725*us/10) / float64(205*us) // 172.5 of 205 µs idle
	want := &Result{
		Ops: []Row{
			{Key: "jit(run)/layer0/mlp/dot_general", Label: "dot_general", A: 20, B: 10, Delta: -10, DeltaPct: -50},
			{Key: "jit(run)/layer0/attention/dot_general", Label: "dot_general", A: 20, B: 15, Delta: -5, DeltaPct: -25},
			{Key: "jit(run)/LogitsProcessor/reduce_max", Label: "reduce_max", A: 0, B: 2.5, Delta: 2.5, DeltaPct: 0},
			{Key: "while.6", Label: "Unknown", A: 5, B: 5, Delta: 0, DeltaPct: 0},
		},
		Components: []Row{
			{Key: "mlp.matmul", A: 20, B: 10, Delta: -10, DeltaPct: -50},
			{Key: "attention.matmul", A: 20, B: 15, Delta: -5, DeltaPct: -25},
			{Key: "sampler/logits", A: 0, B: 2.5, Delta: 2.5, DeltaPct: 0},
			{Key: "control_flow", A: 5, B: 5, Delta: 0, DeltaPct: 0},
		},
		OpTypes: []Row{
			{Key: "dot_general", A: 40, B: 25, Delta: -15, DeltaPct: -37.5},
			{Key: "reduce_max", A: 0, B: 2.5, Delta: 2.5, DeltaPct: 0},
			{Key: "Unknown", A: 5, B: 5, Delta: 0, DeltaPct: 0},
		},
		Summary: []Row{
			{Key: "span_us", Label: "us", A: 110, B: 205, Delta: 95, DeltaPct: 100 * 95.0 / 110},
			{Key: "device_busy_us", Label: "us", A: 45, B: 32.5, Delta: -12.5, DeltaPct: -100 * 12.5 / 45},
			{Key: "device_op_us", Label: "us", A: 45, B: 32.5, Delta: -12.5, DeltaPct: -100 * 12.5 / 45},
			{Key: "idle_pct", Label: "%", A: idleA, B: idleB, Delta: idleB - idleA, DeltaPct: 100 * (idleB - idleA) / idleA},
			{Key: "device_op_events", Label: "count", A: 4, B: 4, Delta: 0, DeltaPct: 0},
			{Key: "windows", Label: "count", A: 2, B: 2, Delta: 0, DeltaPct: 0},
			{Key: "windows_us", Label: "us", A: 45, B: 32.5, Delta: -12.5, DeltaPct: -100 * 12.5 / 45},
			{Key: "events_kept", Label: "count", A: 4, B: 4, Delta: 0, DeltaPct: 0},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Compare(score, generate) mismatch (-want +got):\n%s", d)
	}
}

func TestCompareSelf(t *testing.T) {
	c := score()
	got := Compare(c, c, nil)
	for _, table := range [][]Row{got.Ops, got.Components, got.OpTypes, got.Summary} {
		for _, r := range table {
			if r.Delta != 0 || r.DeltaPct != 0 || r.A != r.B {
				t.Errorf("Compare(c, c) row %+v, want no change", r)
			}
		}
	}
	// Nil rules are the default rules: both dots are matmul.
	if got, want := fmt.Sprint(len(got.Ops), len(got.Components), len(got.OpTypes)), "3 2 2"; got != want {
		t.Errorf("rows per table = %s, want %s", got, want)
	}
}
