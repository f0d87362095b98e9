package optypes

import (
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/google/go-cmp/cmp"
)

func TestAnalyzeSmall(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, builtintest.Small(), nil)
	const total = 8_250_000.0
	want := []sdk.Row{
		{"type": "dot_general", "total_us": 5.25, "pct": 100 * 5_250_000 / total},
		{"type": "pallas_call", "total_us": 2.5, "pct": 100 * 2_500_000 / total},
		{"type": "Unknown", "total_us": 0.5, "pct": 100 * 500_000 / total},
	}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	if got := s.Charts[0].Bars; len(got) != 3 || got[0] != (sdk.Bar{Label: "dot_general", Value: 5.25}) {
		t.Errorf("bars = %v", got)
	}
	if len(s.Notes) != 1 {
		t.Errorf("notes = %q, want one about Unknown", s.Notes)
	}
}
