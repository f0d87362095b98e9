package hostevents

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
		{"name": "poll", "count": int64(100), "total_us": 50.0, "self_us": 40.0},
		{"name": "run", "count": int64(2), "total_us": 10.0, "self_us": 7.0},
		{"name": "step", "count": int64(1), "total_us": 3.0, "self_us": 3.0},
	}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	wantSummary := []sdk.Metric{
		{Key: "events", Label: "Host events", Value: 103},
		{Key: "events_kept", Label: "Kept by trimming", Value: 2},
		{Key: "events_dropped", Label: "Dropped by trimming (summarised)", Value: 101},
		{Key: "names", Label: "Distinct names", Value: 3},
	}
	if diff := cmp.Diff(wantSummary, s.Summary); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	wantCharts := []sdk.Chart{
		{Kind: "bar", Title: "Host events by total time", Unit: "us", Bars: []sdk.Bar{{Label: "poll", Value: 50}, {Label: "run", Value: 10}, {Label: "step", Value: 3}}},
		{Kind: "bar", Title: "Host events by self time", Unit: "us", Bars: []sdk.Bar{{Label: "poll", Value: 40}, {Label: "run", Value: 7}, {Label: "step", Value: 3}}},
	}
	if diff := cmp.Diff(wantCharts, s.Charts); diff != "" {
		t.Errorf("charts mismatch (-want +got):\n%s", diff)
	}
}

func TestAnalyzeNoHost(t *testing.T) {
	c := builtintest.Small()
	c.Planes = c.Planes[:2]
	c.Dropped = nil
	s := builtintest.Run(t, Analyzer{}, c, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 {
		t.Errorf("no host plane: rows %v notes %q", s.Rows, s.Notes)
	}
}

// TestDroppedOtherPlanes checks that dropped summaries of other planes are
// not counted.
func TestDroppedOtherPlanes(t *testing.T) {
	c := builtintest.Small()
	c.Dropped = append(c.Dropped, capture.Dropped{Plane: 0, Line: 0, Name: "poll", Count: 5, Total: 5, Self: 5})
	s := builtintest.Run(t, Analyzer{}, c, nil)
	if got := s.Rows[0]["count"]; got != int64(100) {
		t.Errorf("poll count = %v, want 100", got)
	}
}
