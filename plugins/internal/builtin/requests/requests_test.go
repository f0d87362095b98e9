package requests_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/requests"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/sdktest"
)

const msPS = capture.Millisecond

func tfOp(v string) []capture.Stat {
	return []capture.Stat{{Name: "tf_op", Kind: capture.StatString, Str: v}}
}

// served is a capture of three requests: r1 alone, then r2 and r3 in
// flight together (batched), and device work after every answer.
//
//	TPU:0 XLA Ops: attention 1..1.5 ms, mlp 1.5..1.7, attention 5..5.6, logits 8..8.1
//	host: run_batch 0.9..1.8, process_batch_result 5.6..5.7, a python
//	      tracer wait over everything (not work)
//	requests: r1 0.5..2 (200), r2 4..6 (200), r3 4.5..6 (500)
func served() *capture.Capture {
	ev := func(name string, start, dur int64, stats []capture.Stat) capture.Event {
		return capture.Event{Name: name, Start: start, Dur: dur, Self: dur, Stats: stats}
	}
	attn := tfOp("jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-/pallas_call:pallas_call")
	return &capture.Capture{
		BaseNS: 1_770_000_000_000_000_000,
		Span:   capture.Interval{Start: 0, End: 10 * msPS},
		Windows: []capture.Interval{
			{Start: 900_000_000, End: 1_800_000_000}, {Start: 4_900_000_000, End: 5_700_000_000}, {Start: 7_900_000_000, End: 8_200_000_000},
		},
		Planes: []*capture.Plane{
			{Name: "/device:TPU:0", OpEvents: 4, Lines: []*capture.Line{{Name: "XLA Ops", Events: []capture.Event{
				ev("fusion.1", 1*msPS, 500_000_000, attn),
				ev("fusion.2", 1_500_000_000, 200_000_000, tfOp("jit(f)/Qwen3MLP/down_proj/dot_general:dot_general")),
				ev("fusion.1", 5*msPS, 600_000_000, attn),
				ev("fusion.7", 8*msPS, 100_000_000, tfOp("jit(f)/LogitsProcessor/dot_general:dot_general")),
			}}}},
			{Name: capture.HostPlaneName, Lines: []*capture.Line{
				{Name: "Thread-1", Events: []capture.Event{ev("$threading.py:637 wait", 0, 10*msPS, nil)}},
				{Name: "python3", Events: []capture.Event{
					ev("run_batch", 900_000_000, 900_000_000, nil),
					ev("process_batch_result", 5_600_000_000, 100_000_000, nil),
				}},
			}},
		},
		Requests: []capture.Request{
			{ID: "r1", Endpoint: "/v1/score", Send: 500_000_000, FirstByte: 1_900_000_000, End: 2 * msPS, Status: 200},
			{ID: "r2", Endpoint: "/v1/score", Send: 4 * msPS, FirstByte: 6 * msPS, End: 6 * msPS, Status: 200},
			{ID: "r3", Endpoint: "/v1/score", Send: 4_500_000_000, FirstByte: 6 * msPS, End: 6 * msPS, Status: 500},
		},
	}
}

func TestAnalyze(t *testing.T) {
	runs := []struct {
		name string
		run  func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section
	}{
		{"direct", func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
			return builtintest.Run(t, a, c, opts)
		}},
		// Over the plugin protocol: the requests travel in the .fpcap header.
		{"grpc", func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
			return sdktest.RunCapture(t, a, c, opts)
		}},
	}
	tests := []struct {
		name  string
		rules string
		top   string
	}{
		{"default rules", "", "attention"},
		{"seed rules", bucket.SeedSet, "attention.flash"},
	}
	for _, run := range runs {
		for _, tt := range tests {
			t.Run(run.name+"/"+tt.name, func(t *testing.T) {
				s := run.run(t, requests.Analyzer{}, served(), map[string]string{"rules": tt.rules})
				want := []sdk.Row{
					{"request": "r1", "endpoint": "/v1/score", "latency_ms": 1.5, "device_busy_ms": 0.7, "shared_ms": 0.0,
						"windows": int64(1), "host_ms": 0.2, "wait_ms": 0.6, "top_component": tt.top},
					{"request": "r2", "endpoint": "/v1/score", "latency_ms": 2.0, "device_busy_ms": 0.3, "shared_ms": 0.3,
						"windows": int64(1), "host_ms": 0.05, "wait_ms": 1.65, "top_component": tt.top},
					{"request": "r3", "endpoint": "/v1/score", "latency_ms": 1.5, "device_busy_ms": 0.3, "shared_ms": 0.3,
						"windows": int64(1), "host_ms": 0.05, "wait_ms": 1.15, "top_component": tt.top},
				}
				if diff := cmp.Diff(want, s.Rows); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				wantSummary := []sdk.Metric{
					{Key: "requests", Label: "Requests", Value: 3},
					{Key: "failed", Label: "Failed requests", Value: 1},
					{Key: "latency_p50_ms", Label: "Latency p50", Value: 1.5, Unit: "ms"},
					{Key: "device_busy_ms", Label: "Device busy in requests", Value: 1.3, Unit: "ms"},
					{Key: "shared_ms", Label: "of it shared", Value: 0.6, Unit: "ms"},
					{Key: "unattributed_device_ms", Label: "Device busy outside every request", Value: 0.1, Unit: "ms"},
				}
				if diff := cmp.Diff(wantSummary, s.Summary); diff != "" {
					t.Errorf("summary (-want +got):\n%s", diff)
				}
				if len(s.Charts) != 1 || len(s.Charts[0].Spans) != 6 || s.Charts[0].Spans[0] != (sdk.Span{Lane: "r1", Label: "r1 0.700 ms device", Start: 500, End: 2000}) {
					t.Errorf("charts = %+v, want a timeline of 3 requests and 3 windows", s.Charts)
				}
			})
		}
	}
}

// TestDeviceSumsToBusyInSpans: however the requests overlap, their device
// times add up to the device busy time inside their spans.
func TestDeviceSumsToBusyInSpans(t *testing.T) {
	c := served()
	for i := range 40 {
		start := int64(i) * 217_000_000
		c.Requests = append(c.Requests, capture.Request{ID: "x", Endpoint: "/generate", Send: start, FirstByte: start, End: start + int64(i%7+1)*333_333_333, Status: 200})
	}
	s := builtintest.Run(t, requests.Analyzer{}, c, nil)
	var sum float64
	for _, r := range s.Rows {
		sum += r["device_busy_ms"].(float64)
	}
	var busy float64
	for _, m := range s.Summary {
		if m.Key == "device_busy_ms" {
			busy = m.Value
		}
	}
	if d := sum - busy; d > 1e-9 || d < -1e-9 || busy != 1.4 {
		t.Errorf("device times sum to %v ms, busy in spans %v ms; want both 1.4 (every op meets a request)", sum, busy)
	}
}

func TestNoRequests(t *testing.T) {
	c := served()
	c.Requests = nil
	s := builtintest.Run(t, requests.Analyzer{}, c, nil)
	if len(s.Rows) != 0 || len(s.Notes) != 1 || s.Name != "requests" {
		t.Errorf("section = %+v, want no rows and one note", s)
	}
}

func TestBadRules(t *testing.T) {
	_, err := requests.Analyzer{}.Analyze(context.Background(), &sdk.Input{Capture: served(), Options: map[string]string{"rules": "version: 9"}})
	if !errors.Is(err, bucket.ErrInvalid) {
		t.Errorf("Analyze with bad rules = %v, want bucket.ErrInvalid", err)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (requests.Analyzer{}).Analyze(ctx, &sdk.Input{Capture: served()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(canceled) = %v, want context.Canceled", err)
	}
}
