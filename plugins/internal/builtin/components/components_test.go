package components

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/google/go-cmp/cmp"
)

func TestAnalyzeSmall(t *testing.T) {
	const total = 8_250_000.0
	tests := []struct {
		name    string
		options map[string]string
		want    []sdk.Row
	}{
		{"default rules", nil, []sdk.Row{
			{"component": "matmul", "total_us": 5.25, "pct": 100 * 5_250_000 / total},
			{"component": "attention", "total_us": 2.5, "pct": 100 * 2_500_000 / total},
			{"component": "control_flow", "total_us": 0.5, "pct": 100 * 500_000 / total},
		}},
		{"seed rules", map[string]string{RulesOption: "seed"}, []sdk.Row{
			{"component": "sampler/logits", "total_us": 3.0, "pct": 100 * 3_000_000 / total},
			{"component": "attention.flash", "total_us": 2.5, "pct": 100 * 2_500_000 / total},
			{"component": "mlp.matmul", "total_us": 2.25, "pct": 100 * 2_250_000 / total},
			{"component": "control_flow", "total_us": 0.5, "pct": 100 * 500_000 / total},
		}},
		{"default by name", map[string]string{RulesOption: "default"}, nil},
		{"custom rules", map[string]string{RulesOption: "default: rest\nrules:\n  - component: matmul\n    type: ^dot_general$\n"}, []sdk.Row{
			{"component": "matmul", "total_us": 5.25, "pct": 100 * 5_250_000 / total},
			{"component": "rest", "total_us": 3.0, "pct": 100 * 3_000_000 / total},
		}},
		{"empty option means default", map[string]string{RulesOption: ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := builtintest.Run(t, Analyzer{}, builtintest.Small(), tt.options)
			if tt.want == nil {
				tt.want = tests[0].want
			}
			if diff := cmp.Diff(tt.want, s.Rows); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnalyzeNotes(t *testing.T) {
	for option, want := range map[string]string{
		"":     "the default rules",
		"seed": "the built-in seed rules",
		"rules:\n  - component: x\n    category: loop\n": "the rules given (1 rules)",
	} {
		s := builtintest.Run(t, Analyzer{}, builtintest.Small(), map[string]string{RulesOption: option})
		if len(s.Notes) == 0 || !strings.Contains(s.Notes[0], want) {
			t.Errorf("option %q: notes %q, want one saying %q", option, s.Notes, want)
		}
	}
}

func TestAnalyzeBadRules(t *testing.T) {
	_, err := Analyzer{}.Analyze(t.Context(), &sdk.Input{Capture: builtintest.Small(), Options: map[string]string{RulesOption: "rules:\n  - component: x\n    name: \"(\"\n"}})
	if !errors.Is(err, bucket.ErrInvalid) || !strings.Contains(err.Error(), "rules[0].name (line 3)") {
		t.Errorf("Analyze(bad rules) err = %v, want bucket.ErrInvalid naming rules[0].name", err)
	}
}
