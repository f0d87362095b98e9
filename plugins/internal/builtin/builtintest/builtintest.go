// Package builtintest holds what the built-in analyzers' tests share: a small
// hand-built capture and a runner that checks the sections.
package builtintest

import (
	"context"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// US is one microsecond in picoseconds.
const US = capture.Microsecond

func tfOp(v string) []capture.Stat {
	return []capture.Stat{{Name: "tf_op", Kind: capture.StatString, Str: v}}
}

// Small returns a hand-built capture: two TPUs, a host thread with nested
// events, and dropped-event summaries. Span 0..10 µs, one window 0.9..7.1 µs.
//
//	TPU:0 XLA Ops: pallas_call 1..3.5, down_proj dot_general 4..5.25,
//	               while.6 (no tf_op) 5.25..5.75, down_proj dot_general 6..7
//	TPU:0 XLA Modules: jit_f 1..7 (overlays the ops: not an op)
//	TPU:1 XLA Ops: LogitsProcessor dot_general 1..4
//	host python: run 0..8 (self 5) holding step 1..4 (self 3)
//	dropped on host python: poll ×100 (50 µs, self 40), run ×1 (2 µs, self 2)
func Small() *capture.Capture {
	ev := func(name string, start, dur int64, stats []capture.Stat) capture.Event {
		return capture.Event{Name: name, Start: start, Dur: dur, Self: dur, Stats: stats}
	}
	return &capture.Capture{
		BaseNS:      1_770_000_000_000_000_000,
		Span:        capture.Interval{Start: 0, End: 10 * US},
		Gap:         capture.DefaultGap,
		Pad:         capture.DefaultPad,
		Windows:     []capture.Interval{{Start: 900_000, End: 7_100_000}},
		EventsTotal: 110,
		Planes: []*capture.Plane{
			{Name: "/device:TPU:0", Busy: 5_250_000, OpEvents: 4, EventsTotal: 5, Lines: []*capture.Line{
				{Name: "XLA Modules", Events: []capture.Event{ev("jit_f", 1*US, 6*US, nil)}},
				{Name: "XLA Ops", Events: []capture.Event{
					ev("fusion.1", 1*US, 2_500_000, tfOp("jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-/pallas_call:pallas_call")),
					ev("fusion.2", 4*US, 1_250_000, tfOp("jit(f)/Qwen3MLP/down_proj/dot_general:dot_general")),
					ev("while.6", 5_250_000, 500_000, nil),
					ev("fusion.2", 6*US, 1*US, tfOp("jit(f)/Qwen3MLP/down_proj/dot_general:dot_general")),
				}},
			}},
			{Name: "/device:TPU:1", Busy: 3 * US, OpEvents: 1, EventsTotal: 1, Lines: []*capture.Line{
				{Name: "XLA Ops", Events: []capture.Event{
					ev("fusion.7", 1*US, 3*US, tfOp("jit(f)/LogitsProcessor/dot_general:dot_general")),
				}},
			}},
			{Name: "/host:CPU", EventsTotal: 103, Lines: []*capture.Line{
				{Name: "python", Events: []capture.Event{
					{Name: "run", Start: 0, Dur: 8 * US, Self: 5 * US},
					{Name: "step", Start: 1 * US, Dur: 3 * US, Self: 3 * US},
				}},
			}},
		},
		Dropped: []capture.Dropped{
			{Plane: 2, Line: 0, Name: "poll", Count: 100, Total: 50 * US, Self: 40 * US},
			{Plane: 2, Line: 0, Name: "run", Count: 1, Total: 2 * US, Self: 2 * US},
		},
		Source: capture.Source{Format: "xplane", Name: "small.xplane.pb"},
	}
}

// Run runs a on c with options, and checks the section is valid.
func Run(t testing.TB, a sdk.Analyzer, c *capture.Capture, options map[string]string) *sdk.Section {
	t.Helper()
	s, err := a.Analyze(context.Background(), &sdk.Input{Capture: c, Options: options})
	if err != nil {
		t.Fatalf("%s: Analyze: %v", a.Info().Name, err)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("%s: section does not validate: %v", a.Info().Name, err)
	}
	if s.Name != a.Info().Name {
		t.Errorf("section name %q, want %q", s.Name, a.Info().Name)
	}
	for i, r := range s.Rows {
		if len(r) != len(s.Columns) {
			t.Errorf("%s: row %d has %d keys, want the %d columns", s.Name, i, len(r), len(s.Columns))
		}
		for _, col := range s.Columns {
			if _, ok := r[col.Key]; !ok {
				t.Errorf("%s: row %d has no %q", s.Name, i, col.Key)
			}
		}
	}
	return s
}
