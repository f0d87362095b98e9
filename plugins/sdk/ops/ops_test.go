package ops

import (
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/google/go-cmp/cmp"
)

func tfOp(v string) []capture.Stat {
	return []capture.Stat{{Name: "run_id", Kind: capture.StatInt, Int: 7}, {Name: StatName, Kind: capture.StatString, Str: v}}
}

func TestFrameworkOp(t *testing.T) {
	tests := []struct {
		name    string
		ev      capture.Event
		wantOp  string
		wantTyp string
	}{
		{"jax", capture.Event{Name: "fusion.1", Stats: tfOp("jit(jitted_run_model)/LogitsProcessor/dot_general:dot_general")},
			"jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general"},
		{"pallas", capture.Event{Name: "x", Stats: tfOp("jit(f)/RPA-bq_32-bkvp_512-p_1-/pallas_call:pallas_call")},
			"jit(f)/RPA-bq_32-bkvp_512-p_1-/pallas_call", "pallas_call"},
		{"colon in scope", capture.Event{Name: "x", Stats: tfOp("jit(f)/scope:a/b:reduce_sum")}, "jit(f)/scope:a/b", "reduce_sum"},
		{"empty type", capture.Event{Name: "x", Stats: tfOp("jit(f)/thing:")}, "jit(f)/thing", UnknownType},
		{"no colon", capture.Event{Name: "x", Stats: tfOp("thing")}, "thing", UnknownType},
		{"empty stat", capture.Event{Name: "copy.3", Stats: tfOp("")}, "copy.3", UnknownType},
		{"no stat", capture.Event{Name: "conditional.3"}, "conditional.3", UnknownType},
		{"tf", capture.Event{Name: "k", Stats: tfOp("model/dense/MatMul:MatMul")}, "model/dense/MatMul", "MatMul"},
		{"int stat", capture.Event{Name: "k", Stats: []capture.Stat{{Name: StatName, Kind: capture.StatInt, Int: 5}}}, "5", UnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, typ := FrameworkOp(&tt.ev)
			if op != tt.wantOp || typ != tt.wantTyp {
				t.Errorf("FrameworkOp(%v) = %q, %q, want %q, %q", tt.ev.Stats, op, typ, tt.wantOp, tt.wantTyp)
			}
		})
	}
}

// twoDevices is a capture with two TPUs, a module line that overlays the
// ops, and a host plane.
func twoDevices() *capture.Capture {
	ops := func(evs ...capture.Event) *capture.Line { return &capture.Line{Name: "XLA Ops", Events: evs} }
	return &capture.Capture{
		Planes: []*capture.Plane{
			{Name: "/host:CPU", Lines: []*capture.Line{{Name: "python", Events: []capture.Event{{Name: "run", Dur: 1000}}}}},
			{Name: "/device:TPU:0", Lines: []*capture.Line{
				{Name: "XLA Modules", Events: []capture.Event{{Name: "jit_f", Dur: 900}}},
				ops(
					capture.Event{Name: "fusion", Start: 0, Dur: 100, Stats: tfOp("f/a:dot_general")},
					capture.Event{Name: "while.1", Start: 100, Dur: 50},
					capture.Event{Name: "fusion", Start: 150, Dur: 30, Stats: tfOp("f/a:dot_general")},
				),
			}},
			{Name: "/device:GPU:1", Lines: []*capture.Line{
				{Name: "Stream #14(Compute)", Events: []capture.Event{{Name: "kernel", Dur: 7}}},
				{Name: "TensorFlow Ops", Events: []capture.Event{{Name: "MatMul", Dur: 8}}},
			}},
		},
	}
}

func TestDeviceOps(t *testing.T) {
	var got []string
	for op := range DeviceOps(twoDevices()) {
		got = append(got, op.Plane.Name+" "+op.Line.Name+" "+op.Operation+" "+op.Type)
	}
	want := []string{
		"/device:TPU:0 XLA Ops f/a dot_general",
		"/device:TPU:0 XLA Ops while.1 Unknown",
		"/device:TPU:0 XLA Ops f/a dot_general",
		"/device:GPU:1 Stream #14(Compute) kernel Unknown",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeviceOps mismatch (-want +got):\n%s", diff)
	}
	n := 0
	for range DeviceOps(twoDevices()) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("DeviceOps did not stop after break: %d", n)
	}
}

func TestSum(t *testing.T) {
	groups, total := Sum(twoDevices(), func(op Op) string { return op.Type })
	want := []Group[string]{{Key: "dot_general", Count: 2, Total: 130}, {Key: "Unknown", Count: 2, Total: 57}}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("Sum groups mismatch (-want +got):\n%s", diff)
	}
	if total != 187 {
		t.Errorf("Sum total = %d, want 187", total)
	}
	if g, tot := Sum(&capture.Capture{}, func(op Op) string { return op.Type }); g != nil || tot != 0 {
		t.Errorf("Sum(empty) = %v, %d, want nil, 0", g, tot)
	}
}
