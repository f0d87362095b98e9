package idle

import (
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/google/go-cmp/cmp"
)

func TestAnalyzeSmall(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, builtintest.Small(), nil)
	want := []sdk.Row{
		{"device": "/device:TPU:0", "span_us": 10.0, "busy_us": 5.25, "idle_us": 4.75, "idle_pct": 47.5, "op_events": int64(4)},
		{"device": "/device:TPU:1", "span_us": 10.0, "busy_us": 3.0, "idle_us": 7.0, "idle_pct": 70.0, "op_events": int64(1)},
	}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	wantSummary := []sdk.Metric{
		{Key: "span_us", Label: "Capture span", Value: 10, Unit: "us"},
		{Key: "devices", Label: "Devices", Value: 2},
		{Key: "min_idle_pct", Label: "Least idle device", Value: 47.5, Unit: "%"},
		{Key: "max_idle_pct", Label: "Most idle device", Value: 70, Unit: "%"},
		{Key: "windows", Label: "Non-idle windows", Value: 1},
		{Key: "windows_us", Label: "Time in windows", Value: 6.2, Unit: "us"},
		{Key: "windows_pct", Label: "Share of span in windows", Value: 62, Unit: "%"},
		{Key: "shortest_window_us", Label: "Shortest window", Value: 6.2, Unit: "us"},
		{Key: "longest_window_us", Label: "Longest window", Value: 6.2, Unit: "us"},
	}
	if diff := cmp.Diff(wantSummary, s.Summary); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	wantCharts := []sdk.Chart{
		{Kind: "timeline", Title: "Non-idle windows and device busy time", Unit: "us", Spans: []sdk.Span{
			{Lane: "capture", Label: "span 10.000 µs", Start: 0, End: 10},
			{Lane: "windows", Label: "#1 6.200 µs", Start: 0.9, End: 7.1},
			// TPU:0's 1..3.5, 4..5.25, 5.25..5.75, 6..7: the touching two merge.
			{Lane: "/device:TPU:0", Start: 1, End: 3.5},
			{Lane: "/device:TPU:0", Start: 4, End: 5.75},
			{Lane: "/device:TPU:0", Start: 6, End: 7},
			{Lane: "/device:TPU:1", Start: 1, End: 4},
		}},
		{Kind: "bar", Title: "Busy time per device", Unit: "us", Bars: []sdk.Bar{{Label: "/device:TPU:0", Value: 5.25}, {Label: "/device:TPU:1", Value: 3}}},
	}
	if diff := cmp.Diff(wantCharts, s.Charts); diff != "" {
		t.Errorf("charts mismatch (-want +got):\n%s", diff)
	}
}

func TestWindowsAndGaps(t *testing.T) {
	c := builtintest.Small()
	c.Planes = c.Planes[:1]
	c.Windows = []capture.Interval{{Start: 0, End: 1_000_000}, {Start: 3_000_000, End: 3_500_000}, {Start: 9_000_000, End: 10_000_000}}
	s := builtintest.Run(t, Analyzer{}, c, nil)
	got := map[string]float64{}
	for _, m := range s.Summary {
		got[m.Key] = m.Value
	}
	want := map[string]float64{
		"span_us": 10, "devices": 1, "idle_pct": 47.5, "windows": 3, "windows_us": 2.5, "windows_pct": 25,
		"shortest_window_us": 0.5, "longest_window_us": 1, "shortest_gap_us": 2, "longest_gap_us": 5.5,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	if len(s.Charts) != 1 {
		t.Errorf("one device: %d charts, want the timeline only", len(s.Charts))
	}
}

func TestCoarse(t *testing.T) {
	iv := []capture.Interval{{Start: 0, End: 10}, {Start: 15, End: 20}, {Start: 40, End: 50}, {Start: 52, End: 60}}
	got := coarse(iv, 5)
	want := []capture.Interval{{Start: 0, End: 10}, {Start: 15, End: 20}, {Start: 40, End: 60}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("coarse mismatch (-want +got):\n%s", diff)
	}
}

func TestNoDevices(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, &capture.Capture{Span: capture.Interval{Start: 0, End: 5}}, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 {
		t.Errorf("no devices: rows %v notes %q", s.Rows, s.Notes)
	}
}
