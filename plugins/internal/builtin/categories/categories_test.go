package categories

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func stat(name, v string) capture.Stat { return capture.Stat{Name: name, Str: v} }

func TestAnalyze(t *testing.T) {
	ev := func(dur int64, stats ...capture.Stat) capture.Event {
		return capture.Event{Name: "x", Dur: dur, Stats: stats}
	}
	c := &capture.Capture{Planes: []*capture.Plane{
		{Name: "/device:TPU:0", Lines: []*capture.Line{
			{Name: "XLA Ops", Events: []capture.Event{
				ev(30, stat("hlo_category", "convolution fusion")),
				ev(10, stat("hlo_category", "copy-done")),
				ev(20, stat("hlo_category", "convolution fusion")),
				ev(5),
			}},
			{Name: "XLA Modules", Events: []capture.Event{ev(1000, stat("hlo_category", "module"))}},
		}},
		{Name: "/device:GPU:0", Lines: []*capture.Line{{Name: "Stream #7", Events: []capture.Event{
			ev(10, stat("cat", "Memcpy")),
			ev(25, stat("cat", "kernel")),
		}}}},
		{Name: "/host:CPU", Lines: []*capture.Line{{Name: "t", Events: []capture.Event{ev(500, stat("cat", "cpu_op"))}}}},
	}}
	s := builtintest.Run(t, Analyzer{}, c, nil)
	const total = 100.0
	want := []sdk.Row{
		{"category": "convolution fusion", "total_us": 50e-6, "pct": 100 * 50 / total},
		{"category": "kernel", "total_us": 25e-6, "pct": 100 * 25 / total},
		{"category": "copy-done", "total_us": 10e-6, "pct": 100 * 10 / total},
		{"category": "gpu_memcpy", "total_us": 10e-6, "pct": 100 * 10 / total},
		{"category": "unknown", "total_us": 5e-6, "pct": 100 * 5 / total},
	}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	if len(s.Notes) != 2 || !strings.Contains(s.Notes[1], "unknown (5.0%)") {
		t.Errorf("notes = %q", s.Notes)
	}
	if len(s.Charts) != 1 || len(s.Charts[0].Bars) != 5 {
		t.Errorf("charts = %+v", s.Charts)
	}
}

func TestAnalyzeSmall(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, builtintest.Small(), nil)
	want := []sdk.Row{{"category": "unknown", "total_us": 8.25, "pct": 100.0}}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
}

func TestAnalyzeEmpty(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, &capture.Capture{}, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "device_tracer_level") {
		t.Errorf("empty capture: rows %v notes %q", s.Rows, s.Notes)
	}
	kineto := &capture.Capture{Planes: []*capture.Plane{{Name: "/host:CPU", Lines: []*capture.Line{{Name: "t", Events: []capture.Event{{Name: "aten::mm", Stats: []capture.Stat{stat("cat", "cpu_op")}}}}}}}}
	s = builtintest.Run(t, Analyzer{}, kineto, nil)
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "ProfilerActivity.CUDA") {
		t.Errorf("kineto capture with no GPU work: notes %q", s.Notes)
	}
}

func TestAnalyzeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Analyzer{}).Analyze(ctx, &sdk.Input{Capture: builtintest.Small()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(cancelled) err = %v, want context.Canceled", err)
	}
}
