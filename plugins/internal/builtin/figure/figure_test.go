package figure

import (
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		ps   int64
		want string
	}{
		{0, "0.000 µs"},
		{453_051_250, "453.051 µs"},
		{1_161_500_000, "1.162 ms"},
		{5_045_165_500_000, "5.045 s"},
		{-2 * capture.Millisecond, "-2.000 ms"},
	}
	for _, tt := range tests {
		if got := Duration(tt.ps); got != tt.want {
			t.Errorf("Duration(%d) = %q, want %q", tt.ps, got, tt.want)
		}
	}
}

func TestPctAvgUS(t *testing.T) {
	if got := Pct(1, 0); got != 0 {
		t.Errorf("Pct(1, 0) = %v, want 0", got)
	}
	if got := Pct(1, 4); got != 25 {
		t.Errorf("Pct(1, 4) = %v, want 25", got)
	}
	if got := Avg(3_000_000, 2); got != 1.5 {
		t.Errorf("Avg = %v, want 1.5", got)
	}
	if got := Avg(3, 0); got != 0 {
		t.Errorf("Avg(_, 0) = %v, want 0", got)
	}
	if got := US(453_051_250); got != 453.05125 {
		t.Errorf("US = %v, want 453.05125", got)
	}
}

func TestCut(t *testing.T) {
	items := make([]int, MaxRows+5)
	kept, cut := Cut(items)
	if len(kept) != MaxRows || cut != 5 {
		t.Errorf("Cut = %d kept, %d cut; want %d, 5", len(kept), cut, MaxRows)
	}
	kept, cut = Cut(items[:3])
	if len(kept) != 3 || cut != 0 {
		t.Errorf("Cut(3) = %d, %d", len(kept), cut)
	}
}

func TestNoDeviceOps(t *testing.T) {
	jax := &capture.Capture{Planes: []*capture.Plane{{Name: "/host:CPU", Lines: []*capture.Line{{Name: "python", Events: []capture.Event{{Name: "$run"}}}}}}}
	if got := NoDeviceOps(jax); !strings.Contains(got, "device_tracer_level=1") {
		t.Errorf("NoDeviceOps(JAX trace) = %q, want the device_tracer_level advice", got)
	}
	kineto := &capture.Capture{Planes: []*capture.Plane{{Name: "/host:CPU", Lines: []*capture.Line{{Name: "t", Events: []capture.Event{
		{Name: "aten::mm", Stats: []capture.Stat{{Name: "cat", Str: "cpu_op"}}},
	}}}}}}
	if got := NoDeviceOps(kineto); !strings.Contains(got, "ProfilerActivity.CUDA") || strings.Contains(got, "device_tracer_level") {
		t.Errorf("NoDeviceOps(kineto trace) = %q, want the ProfilerActivity.CUDA advice only", got)
	}
}
