package roofline

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func str(name, v string) capture.Stat { return capture.Stat{Name: name, Str: v} }
func num(name string, v int64) capture.Stat {
	return capture.Stat{Name: name, Kind: capture.StatInt, Int: v}
}
func dbl(name string, v float64) capture.Stat {
	return capture.Stat{Name: name, Kind: capture.StatDouble, Double: v}
}

// tpu is a v6e with the peaks the profiler records: 918 TFLOP/s, 1640 GB/s.
func tpu(name string, evs ...capture.Event) *capture.Plane {
	return &capture.Plane{Name: name, OpEvents: int64(len(evs)), Stats: []capture.Stat{
		str("device_type_string", "TPU v6 Lite"), dbl("peak_teraflops_per_second", 918), dbl("peak_hbm_bw_gigabytes_per_second", 1640),
	}, Lines: []*capture.Line{{Name: "XLA Ops", Events: evs}}}
}

const us = capture.Microsecond

func TestAnalyze(t *testing.T) {
	c := &capture.Capture{Planes: []*capture.Plane{tpu("/device:TPU:0",
		// A matmul: 1.836 GFLOP in 2 us = 918 TFLOP/s (100 % of peak), 1 MB.
		capture.Event{Name: "fusion.1", Dur: 2 * us, Stats: []capture.Stat{str("tf_op", "jit(f)/dot_general:"), str("hlo_category", "convolution fusion"), num("flops", 1_836_000_000), num("bytes_accessed", 1_000_000)}},
		// A layout copy: 0 FLOP, 1.64 MB in 1 us = 1640 GB/s (100 % of bandwidth).
		capture.Event{Name: "%copy.3 = f32[8,128]{0,1} copy(f32[8,128]{1,0} %p)", Dur: 1 * us, Stats: []capture.Stat{str("hlo_category", "data formatting"), num("flops", 0), num("bytes_accessed", 1_640_000)}},
		// The done half of an async copy only waits: left out.
		capture.Event{Name: "%copy-done.2 = f32[] copy-done()", Dur: 1 * us, Stats: []capture.Stat{str("hlo_category", "copy-done"), num("flops", 0), num("bytes_accessed", 1_640_000)}},
		// Model flops only, as strings.
		capture.Event{Name: "fusion.3", Dur: 1 * us, Stats: []capture.Stat{str("tf_op", "jit(f)/add:"), str("hlo_category", "loop fusion"), str("model_flops", "1000000"), str("bytes_accessed", "4000000")}},
		// No cost figures: left out.
		capture.Event{Name: "while.1", Dur: 5 * us, Stats: []capture.Stat{str("hlo_category", "control flow")}},
		// The start half of an async copy only issues it: left out.
		capture.Event{Name: "%copy-start.2 = (f32[], u32[]) copy-start()", Dur: 1, Stats: []capture.Stat{str("hlo_category", "copy-start"), num("flops", 0), num("bytes_accessed", 1_640_000)}},
		capture.Event{Name: "all-gather-start.1", Dur: 1, Stats: []capture.Stat{str("hlo_category", "async-start"), num("bytes_accessed", 10)}},
		// A custom call the cost model cannot see into: left out.
		capture.Event{Name: "custom-call.3", Dur: 3 * us, Stats: []capture.Stat{str("hlo_category", "custom-call"), num("model_flops", 0), num("bytes_accessed", 0)}},
	)}}
	s := builtintest.Run(t, Analyzer{}, c, nil)
	want := []sdk.Row{
		{"scope": "category", "name": "convolution fusion", "type": "", "category": "convolution fusion", "occurrences": int64(1), "total_us": 2.0,
			"gflop": 1.836, "gbyte": 0.001, "tflops_per_s": 918.0, "gbytes_per_s": 500.0, "intensity": 1836.0, "pct_peak_flops": 100.0, "pct_peak_bw": 100 * 500.0 / 1640, "bound": "compute"},
		{"scope": "category", "name": "data formatting", "type": "", "category": "data formatting", "occurrences": int64(1), "total_us": 1.0,
			"gflop": 0.0, "gbyte": 0.00164, "tflops_per_s": 0.0, "gbytes_per_s": 1640.0, "intensity": 0.0, "pct_peak_flops": 0.0, "pct_peak_bw": 100.0, "bound": "memory"},
		{"scope": "category", "name": "loop fusion", "type": "", "category": "loop fusion", "occurrences": int64(1), "total_us": 1.0,
			"gflop": 0.001, "gbyte": 0.004, "tflops_per_s": 1.0, "gbytes_per_s": 4000.0, "intensity": 0.25, "pct_peak_flops": 100 * 1.0 / 918, "pct_peak_bw": 100 * 4000.0 / 1640, "bound": "memory"},
		{"scope": "op", "name": "jit(f)/dot_general", "type": "dot_general", "category": "convolution fusion", "occurrences": int64(1), "total_us": 2.0,
			"gflop": 1.836, "gbyte": 0.001, "tflops_per_s": 918.0, "gbytes_per_s": 500.0, "intensity": 1836.0, "pct_peak_flops": 100.0, "pct_peak_bw": 100 * 500.0 / 1640, "bound": "compute"},
		{"scope": "op", "name": "copy.3", "type": "Unknown", "category": "data formatting", "occurrences": int64(1), "total_us": 1.0,
			"gflop": 0.0, "gbyte": 0.00164, "tflops_per_s": 0.0, "gbytes_per_s": 1640.0, "intensity": 0.0, "pct_peak_flops": 0.0, "pct_peak_bw": 100.0, "bound": "memory"},
		{"scope": "op", "name": "jit(f)/add", "type": "add", "category": "loop fusion", "occurrences": int64(1), "total_us": 1.0,
			"gflop": 0.001, "gbyte": 0.004, "tflops_per_s": 1.0, "gbytes_per_s": 4000.0, "intensity": 0.25, "pct_peak_flops": 100 * 1.0 / 918, "pct_peak_bw": 100 * 4000.0 / 1640, "bound": "memory"},
	}
	approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) })
	if diff := cmp.Diff(want, s.Rows, approx); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	notes := strings.Join(s.Notes, "\n")
	for _, w := range []string{"3 of 8 device op events", "1 op events have no flops stat", "TPU v6e: 918 TFLOP/s, 1640 GB/s (as the capture records it)",
		"3 op events (7.7% of device op time) are halves of asynchronous ops", "1 op events (23.1% of device op time) have zero flops and bytes_accessed"} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes do not say %q:\n%s", w, notes)
		}
	}
	if got := metricValue(s, "ridge_intensity"); math.Abs(got-918e12/1640e9) > 1e-9 {
		t.Errorf("ridge_intensity = %v", got)
	}
}

func metricValue(s *sdk.Section, key string) float64 {
	for _, m := range s.Summary {
		if m.Key == key {
			return m.Value
		}
	}
	return math.NaN()
}

// TestNoCosts: a capture whose ops have no cost figures gets a note and no
// rows; so does one with no device ops.
func TestNoCosts(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, builtintest.Small(), nil)
	if len(s.Rows) != 0 || len(s.Notes) == 0 || !strings.Contains(s.Notes[0], "None of the 5 device op events carries flops or bytes_accessed") {
		t.Errorf("no costs: rows %v notes %q", s.Rows, s.Notes)
	}
	s = builtintest.Run(t, Analyzer{}, &capture.Capture{}, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "no device op events") {
		t.Errorf("no ops: rows %v notes %q", s.Rows, s.Notes)
	}
}

// TestMixedDevices: rows over devices with different peaks show none.
func TestMixedDevices(t *testing.T) {
	ev := capture.Event{Name: "fusion.1", Dur: us, Stats: []capture.Stat{str("tf_op", "jit(f)/add:"), num("flops", 10), num("bytes_accessed", 10)}}
	unknown := &capture.Plane{Name: "/device:GPU:1", OpEvents: 1, Lines: []*capture.Line{{Name: "Stream #1", Events: []capture.Event{ev}}}}
	c := &capture.Capture{Planes: []*capture.Plane{tpu("/device:TPU:0", ev), unknown}}
	s := builtintest.Run(t, Analyzer{}, c, nil)
	if len(s.Rows) != 2 || s.Rows[0]["pct_peak_flops"] != "" || s.Rows[0]["bound"] != "" || s.Rows[1]["occurrences"] != int64(2) {
		t.Errorf("rows = %v", s.Rows)
	}
	notes := strings.Join(s.Notes, "\n")
	if !strings.Contains(notes, "different or unknown peaks") || !strings.Contains(notes, "1 device could not be identified") {
		t.Errorf("notes = %s", notes)
	}
}

func TestDevicePeak(t *testing.T) {
	gpu := func(stats ...capture.Stat) *capture.Plane { return &capture.Plane{Name: "/device:GPU:0", Stats: stats} }
	tests := []struct {
		name   string
		plane  *capture.Plane
		chip   string
		source string
	}{
		{"TPU with recorded peaks", tpu("/device:TPU:0"), "TPU v6e", SourceCapture},
		{"TPU v5e by name", &capture.Plane{Name: "/device:TPU:0", Stats: []capture.Stat{str("device_type_string", "TPU v5 lite")}}, "TPU v5e", SourcePublished},
		{"TPU v5p by name", &capture.Plane{Name: "/device:TPU:0", Stats: []capture.Stat{str("device_type_string", "TPU v5")}}, "TPU v5p", SourcePublished},
		{"TPU v4 by name", &capture.Plane{Name: "/device:TPU:0", Stats: []capture.Stat{str("device_type_string", "TPU v4")}}, "TPU v4", SourcePublished},
		{"H100 by name", gpu(str("device_name", "NVIDIA H100 80GB HBM3")), "H100 SXM", SourcePublished},
		{"H100 PCIe by name", gpu(str("device_name", "NVIDIA H100 PCIe")), "H100 PCIe", SourcePublished},
		{"H100 by capability", gpu(num("compute_cap_major", 9), num("compute_cap_minor", 0), num("core_count", 132)), "H100 SXM", SourcePublished},
		{"A100 40GB by capability", gpu(num("compute_cap_major", 8), num("compute_cap_minor", 0), num("memory_size", 42297524224)), "A100 40GB", SourcePublished},
		{"A100 80GB by capability", gpu(num("compute_cap_major", 8), num("compute_cap_minor", 0), num("memory_size", 85e9)), "A100 80GB", SourcePublished},
		{"MI300X (the ROCm capture's stats)", gpu(str("device_vendor", "AMD"), num("compute_cap_major", 9), num("compute_cap_minor", 4), num("core_count", 304)), "MI300X", SourcePublished},
		{"V100 (the TF capture's stats)", gpu(num("compute_cap_major", 7), num("compute_cap_minor", 0), num("core_count", 80)), "V100", SourcePublished},
		{"unknown GPU", gpu(num("compute_cap_major", 6), num("compute_cap_minor", 1)), "", ""},
		{"nothing", gpu(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := DevicePeak(tt.plane)
			if ok != (tt.chip != "") || p.Chip != tt.chip || p.Source != tt.source {
				t.Errorf("DevicePeak = %+v, %v; want chip %q from %q", p, ok, tt.chip, tt.source)
			}
			if ok && (p.FLOPS <= 0 || p.BytesPerSec <= 0) {
				t.Errorf("DevicePeak = %+v: no figures", p)
			}
		})
	}
}

func TestAnalyzeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Analyzer{}).Analyze(ctx, &sdk.Input{Capture: builtintest.Small()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(cancelled) err = %v, want context.Canceled", err)
	}
}
