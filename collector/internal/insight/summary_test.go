package insight

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestRequests(t *testing.T) {
	tests := []struct {
		name     string
		ctx      map[string]string
		endpoint string
		want     int64
	}{
		{"none", nil, "", 0},
		{"agent's entry", map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)"}, "/v1/score", 2},
		{"any endpoint", map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)"}, "", 2},
		{"other endpoint", map[string]string{"requests./generate": "3 (1 warmup + 2 profiled)"}, "/v1/score", 0},
		{"several summed", map[string]string{"requests./a": "1 (0 warmup + 1 profiled)", "requests./b": "5 (1 warmup + 4 profiled)"}, "", 5},
		{"plural warmups", map[string]string{"requests./a": "12 (2 warmups + 10 profiled)"}, "", 10},
		{"garbage", map[string]string{"requests./a": "many"}, "", 0},
		{"no profiled", map[string]string{"requests./a": "1 (1 warmup + 0 profiled)"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Requests(tt.ctx, tt.endpoint); got != tt.want {
				t.Errorf("Requests(%v, %q) = %d, want %d", tt.ctx, tt.endpoint, got, tt.want)
			}
		})
	}
}

func TestOptionsKey(t *testing.T) {
	a := Options{Endpoint: "/v1/score", BodySHA256: BodyHash([]byte(`{"x":1}`)), DurationMS: 2000, Requests: 2}
	b := a
	b.Requests, b.Warmups = 5, 3 // request counts do not split baselines
	if a.Key() != b.Key() || len(a.Key()) != 16 {
		t.Errorf("Key() = %q and %q, want equal 16-digit keys", a.Key(), b.Key())
	}
	for _, c := range []Options{
		{Endpoint: "/generate", BodySHA256: a.BodySHA256, DurationMS: 2000},
		{Endpoint: "/v1/score", BodySHA256: BodyHash([]byte(`{"x":2}`)), DurationMS: 2000},
		{Endpoint: "/v1/score", BodySHA256: a.BodySHA256, DurationMS: 4000},
	} {
		if c.Key() == a.Key() {
			t.Errorf("Options %+v share the key of %+v", c, a)
		}
	}
	if BodyHash(nil) != "" {
		t.Errorf("BodyHash(nil) = %q, want empty", BodyHash(nil))
	}
}

func TestSummarize(t *testing.T) {
	us := func(v int64) capture.Micros { return capture.Micros{US: v} }
	rows := make([]sdk.Row, 0, TopOps+2)
	for i := range TopOps + 2 {
		rows = append(rows, sdk.Row{"type": "dot", "operation": fmt.Sprintf("op%02d", i), "occurrences": int64(2), "total_us": float64(100 - i)})
	}
	in := Input{
		CaptureID: "c1", AgentID: "a", Host: "h", Trigger: "fleet", FleetID: "f", ScheduleID: "s",
		CommittedNS: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano(), Status: "analyzed",
		Labels:  map[string]string{"zone": "z1", "model": "qwen3"},
		Options: Options{Endpoint: "/v1/score", DurationMS: 2000},
		Context: map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)"},
		Summary: capture.Summary{
			SpanUS: us(2_000_000), NonIdleOpUS: us(500),
			Devices: map[string]capture.DeviceSummary{
				"/device:TPU:0": {BusyUS: us(300), IdlePct: 99.985},
				"/device:TPU:1": {BusyUS: us(100), IdlePct: 99.995},
			},
			DeviceOrder: []string{"/device:TPU:0", "/device:TPU:1"},
		},
		Sections: []*sdk.Section{
			{Name: "top_ops", Rows: rows},
			{Name: "components", Rows: []sdk.Row{
				{"component": "mlp", "total_us": 300.0}, {"component": "attention", "total_us": json.Number("200")},
			}},
			{Name: "idle", Error: "crashed"},
		},
	}
	s := Summarize(in)
	perReq, perSec := 250.0, 250.0
	want := Summary{
		SchemaVersion: 1, CaptureID: "c1", AgentID: "a", Host: "h", Trigger: "fleet", FleetID: "f", ScheduleID: "s",
		Committed: "2026-01-02T03:04:05.000000Z", CommittedNS: in.CommittedNS, Status: "analyzed",
		Labels:  []Pair{{"model", "qwen3"}, {"zone", "z1"}},
		Options: in.Options, BaselineKey: in.Options.Key(), Requests: 2, Per: PerRequest,
		SpanUS: 2e6, Devices: 2, DeviceBusyUS: 400, IdlePct: 99.985, DeviceOpUS: 500,
		DeviceOpUSPerRequest: &perReq, DeviceOpUSPerSecond: &perSec,
		HasComponents: true, Components: []Figure{{"mlp", 300}, {"attention", 200}},
		OpsComplete: false, Ops: make([]OpFigure, TopOps),
	}
	for i := range TopOps {
		want.Ops[i] = OpFigure{Operation: fmt.Sprintf("op%02d", i), Type: "dot", US: float64(100 - i), Occurrences: 2}
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}

	// A failed components section leaves components unknown; no workload
	// means per second; no device means 100 % idle.
	in.Sections = []*sdk.Section{{Name: "components", Error: "timed out"}}
	in.Context = nil
	in.Summary.Devices, in.Summary.DeviceOrder = nil, nil
	s = Summarize(in)
	if s.HasComponents || len(s.Components) != 0 || s.Per != PerSecond || s.DeviceOpUSPerRequest != nil || s.IdlePct != 100 || s.OpsComplete {
		t.Errorf("Summarize(no components, no workload) = %+v", s)
	}
	if v, ok := s.Value("component:mlp", PerSecond); ok {
		t.Errorf("Value(component:mlp) = %v, known; want unknown", v)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"labels", "components", "ops"} {
		if _, ok := back[k].([]any); !ok {
			t.Errorf("%s = %v in JSON, want a list (never null)", k, back[k])
		}
	}
	if back["device_op_us_per_request"] != nil {
		t.Errorf("device_op_us_per_request = %v, want null", back["device_op_us_per_request"])
	}
}

func TestValidMetric(t *testing.T) {
	for m, want := range map[string]bool{
		"device_op_us": true, "device_op_us_per_request": true, "idle_pct": true, "component:attention": true,
		"op:jit(f)/dot_general": true, "component:": false, "op:": false, "span_us": false, "": false,
	} {
		if got := ValidMetric(m); got != want {
			t.Errorf("ValidMetric(%q) = %v, want %v", m, got, want)
		}
	}
}

func TestBuildTrend(t *testing.T) {
	at := func(m int) int64 { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC).UnixNano() }
	hs := []host{
		// Fleet capture f1 at minute 0 and f2 at minute 10; a lone capture
		// of b at minute 5; c has no components section.
		{agent: "a", id: "a1", fleet: "f1", at: at(0), requests: 2, comps: map[string]float64{"attention": 200}},
		{agent: "b", id: "b1", fleet: "f1", at: at(0) + 1, requests: 2, comps: map[string]float64{"attention": 240}},
		{agent: "b", id: "b2", at: at(5), requests: 4, comps: map[string]float64{"attention": 400}},
		{agent: "a", id: "a2", fleet: "f2", at: at(10), requests: 2, comps: map[string]float64{"attention": 300}},
		{agent: "b", id: "b3", fleet: "f2", at: at(10) + 1, requests: 2, comps: map[string]float64{"attention": 200}},
		{agent: "c", id: "c1", fleet: "f2", at: at(10) + 2, requests: 2},
	}
	tm := func(ns int64) time.Time { return time.Unix(0, ns).UTC() }
	got := BuildTrend("component:attention", summaries(hs...))
	want := &Trend{
		Metric: "component:attention", Per: PerRequest, Skipped: 1,
		Series: []Series{
			{AgentID: "a", Host: "a.example", Points: []Point{{"a1", tm(at(0)), 100}, {"a2", tm(at(10)), 150}}},
			{AgentID: "b", Host: "b.example", Points: []Point{{"b1", tm(at(0) + 1), 120}, {"b2", tm(at(5)), 100}, {"b3", tm(at(10) + 1), 100}}},
		},
		Median: []MedianPoint{
			{FleetID: "f1", Time: tm(at(0)), Value: 110, Hosts: 2},
			{FleetID: "", Time: tm(at(5)), Value: 100, Hosts: 1},
			{FleetID: "f2", Time: tm(at(10)), Value: 125, Hosts: 2},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildTrend (-want +got):\n%s", diff)
	}

	// One capture without a request count: every point per second.
	hs[2].requests = 0
	hs[2].spanUS = 2e6
	got = BuildTrend("device_op_us_per_request", summaries(hs...))
	if got.Per != PerSecond || got.Skipped != 0 || got.Series[1].Points[1].Value != 200 {
		t.Errorf("BuildTrend(per second) = per %q, skipped %d, b2 %v; want second, 0, 200", got.Per, got.Skipped, got.Series[1].Points[1].Value)
	}
	got = BuildTrend("idle_pct", nil)
	if got.Per != "" || len(got.Series) != 0 || len(got.Median) != 0 {
		t.Errorf("BuildTrend(idle_pct, none) = %+v", got)
	}
}
