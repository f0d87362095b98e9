package topops

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/google/go-cmp/cmp"
)

func TestAnalyzeSmall(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, builtintest.Small(), nil)
	const total = 8_250_000.0 // ps over the five op events
	want := []sdk.Row{
		{"type": "dot_general", "operation": "jit(f)/LogitsProcessor/dot_general", "category": "unknown", "occurrences": int64(1), "total_us": 3.0, "avg_us": 3.0, "pct": 100 * 3_000_000 / total},
		{"type": "pallas_call", "operation": "jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-/pallas_call", "category": "unknown", "occurrences": int64(1), "total_us": 2.5, "avg_us": 2.5, "pct": 100 * 2_500_000 / total},
		{"type": "dot_general", "operation": "jit(f)/Qwen3MLP/down_proj/dot_general", "category": "unknown", "occurrences": int64(2), "total_us": 2.25, "avg_us": 1.125, "pct": 100 * 2_250_000 / total},
		{"type": "Unknown", "operation": "while.6", "category": "unknown", "occurrences": int64(1), "total_us": 0.5, "avg_us": 0.5, "pct": 100 * 500_000 / total},
	}
	if diff := cmp.Diff(want, s.Rows); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
	wantSummary := []sdk.Metric{
		{Key: "device_op_us", Label: "Device op time", Value: 8.25, Unit: "us"},
		{Key: "device_op_events", Label: "Device op events", Value: 5},
		{Key: "operations", Label: "Distinct operations", Value: 4},
		{Key: "devices", Label: "Devices", Value: 2},
	}
	if diff := cmp.Diff(wantSummary, s.Summary); diff != "" {
		t.Errorf("summary mismatch (-want +got):\n%s", diff)
	}
	if len(s.Charts) != 1 || len(s.Charts[0].Bars) != 4 || s.Charts[0].Bars[0].Label != "dot_general: jit(f)/LogitsProcessor/dot_general" {
		t.Errorf("charts = %+v", s.Charts)
	}
	wantNotes := []string{
		"% is of the summed duration of all 5 device op events (8.250 us), summed over 2 devices.",
		"1 op events have no framework op (XLA's own copies, control flow and fusions; GPU kernels no framework op is known to have launched): they are listed under their HLO instruction or kernel name with type Unknown, and the category column says what they are.",
	}
	if diff := cmp.Diff(wantNotes, s.Notes); diff != "" {
		t.Errorf("notes mismatch (-want +got):\n%s", diff)
	}
}

func TestAnalyzeEmpty(t *testing.T) {
	s := builtintest.Run(t, Analyzer{}, &capture.Capture{}, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 {
		t.Errorf("empty capture: rows %v notes %v", s.Rows, s.Notes)
	}
}

func TestAnalyzeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Analyzer{}).Analyze(ctx, &sdk.Input{Capture: builtintest.Small()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(cancelled) err = %v, want context.Canceled", err)
	}
}

// TestCategoryColumn: a row shows the category with the most time; the same
// kernel launched by two framework ops is two rows.
func TestCategoryColumn(t *testing.T) {
	stat := func(kv ...string) []capture.Stat {
		var out []capture.Stat
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, capture.Stat{Name: kv[i], Str: kv[i+1]})
		}
		return out
	}
	c := &capture.Capture{Planes: []*capture.Plane{{Name: "/device:GPU:0", Lines: []*capture.Line{{Name: "Stream #7", Events: []capture.Event{
		{Name: "gemm", Start: 0, Dur: 10, Stats: stat("cat", "kernel", "framework_op", "aten::mm")},
		{Name: "gemm", Start: 10, Dur: 30, Stats: stat("cat", "kernel", "framework_op", "aten::addmm")},
		{Name: "%copy.1 = f32[] copy()", Start: 40, Dur: 5, Stats: stat("hlo_category", "data formatting")},
		{Name: "copy.1", Start: 45, Dur: 7, Stats: stat("hlo_category", "copy")},
	}}}}}}
	s := builtintest.Run(t, Analyzer{}, c, nil)
	var got []string
	for _, r := range s.Rows {
		got = append(got, r["type"].(string)+" "+r["operation"].(string)+" "+r["category"].(string))
	}
	want := []string{"aten::addmm gemm kernel", "Unknown copy.1 copy", "aten::mm gemm kernel"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}
}

// TestXLAOpNameColumn: the column appears when ops carry the op names of
// their HLO metadata, and only then.
func TestXLAOpNameColumn(t *testing.T) {
	c := builtintest.Small()
	s := builtintest.Run(t, Analyzer{}, c, nil)
	for _, col := range s.Columns {
		if col.Key == "xla_op_name" {
			t.Fatalf("column xla_op_name without any op carrying one: %v", s.Columns)
		}
	}
	named := 0
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			for i := range l.Events {
				if ev := &l.Events[i]; ev.Name == "while.6" {
					ev.Stats = append(ev.Stats, capture.Stat{Name: "xla_op_name", Kind: capture.StatString, Str: "jit(f)/while"})
					named++
				}
			}
		}
	}
	if named == 0 {
		t.Fatal("fixture has no while.6 op")
	}
	s = builtintest.Run(t, Analyzer{}, c, nil)
	if last := s.Columns[len(s.Columns)-1]; last.Key != "xla_op_name" {
		t.Fatalf("last column = %q, want xla_op_name", last.Key)
	}
	for _, r := range s.Rows {
		want := ""
		if r["operation"] == "while.6" {
			want = "jit(f)/while"
		}
		if r["xla_op_name"] != want {
			t.Errorf("%v: xla_op_name = %q, want %q", r["operation"], r["xla_op_name"], want)
		}
	}
}
