package insight

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// moved is a change reduced to what the tests compare.
type moved struct {
	Metric, Direction string
	Before, After     float64
	Ops               []string
}

func moves(cs []Change) []moved {
	out := []moved{}
	for _, c := range cs {
		m := moved{Metric: c.Metric, Direction: c.Direction, Before: c.Before, After: c.After}
		for _, op := range c.Ops {
			m.Ops = append(m.Ops, op.Operation)
		}
		out = append(out, m)
	}
	return out
}

// baseline returns n captures of agent a like std(a, 1), newest first.
func baseline(n int) []host {
	out := make([]host, n)
	for i := range out {
		out[i] = std("a", 1)
		out[i].id = fmt.Sprintf("a-%d", n-i)
	}
	return out
}

func TestCompare(t *testing.T) {
	slower := []moved{
		{"device_op_us", Regression, 200.5, 240.5, []string{"attn_a", "attn_b"}},
		{"component:attention", Regression, 100, 140, []string{"attn_a", "attn_b"}},
		{"op:attn_a", Regression, 80, 112, []string{"attn_a"}},
		{"op:attn_b", Regression, 20, 28, []string{"attn_b"}},
	}
	twice := func(h host) host { h.requests *= 2; h.spanUS = 2e6; return scale(h, 2) }
	tests := []struct {
		name string
		cur  host
		base []host
		want []moved
	}{
		{"no baseline", std("a", 1.4), nil, []moved{}},
		{"repeat without change", std("a", 1), baseline(5), []moved{}},
		{"one baseline capture", std("a", 1), baseline(1), []moved{}},
		{"slower attention", std("a", 1.4), baseline(5), slower},
		{"slower against one capture", std("a", 1.4), baseline(1), slower},
		{"5 % slower is within the threshold", std("a", 1.05), baseline(5), []moved{}},
		{"faster attention", std("a", 0.5), baseline(3), []moved{
			{"device_op_us", Improvement, 200.5, 150.5, []string{"attn_a", "attn_b"}},
			{"component:attention", Improvement, 100, 50, []string{"attn_a", "attn_b"}},
			{"op:attn_a", Improvement, 80, 40, []string{"attn_a"}},
			{"op:attn_b", Improvement, 20, 10, []string{"attn_b"}},
		}},
		{
			// Baseline 50, 65, 45, 60, 40 per request: median 50, MAD 10,
			// 3 scaled MADs 44.5: 62.5 is 25 % up but within the spread.
			"noisy baseline, within its spread",
			noisy("a", 125), []host{noisy("a", 100), noisy("a", 130), noisy("a", 90), noisy("a", 120), noisy("a", 80)},
			[]moved{},
		},
		{
			"noisy baseline, beyond its spread",
			noisy("a", 200), []host{noisy("a", 100), noisy("a", 130), noisy("a", 90), noisy("a", 120), noisy("a", 80)},
			[]moved{{"device_op_us", Regression, 50, 100, []string{"x"}}, {"op:x", Regression, 50, 100, []string{"x"}}},
		},
		{
			// Two captures: median 60, MAD 10, too few to trust: the 10 %
			// threshold alone says 67.5 is a regression.
			"two baseline captures: threshold alone",
			noisy("a", 135), []host{noisy("a", 100), noisy("a", 140)},
			[]moved{{"device_op_us", Regression, 60, 67.5, []string{"x"}}, {"op:x", Regression, 60, 67.5, []string{"x"}}},
		},
		{"twice the requests, same per request", twice(std("a", 1)), baseline(5), []moved{}},
		{
			"no workload: twice the span, same per second",
			span("a", 200, 2), []host{span("a", 100, 1), span("a", 100, 1), span("a", 100, 1)}, []moved{},
		},
		{
			"no workload: slower per second",
			span("a", 300, 2), []host{span("a", 100, 1), span("a", 100, 1), span("a", 100, 1)},
			[]moved{{"device_op_us", Regression, 100, 150, []string{"x"}}, {"op:x", Regression, 100, 150, []string{"x"}}},
		},
		{
			// tiny doubles (0.5 → 1 µs per request) but stays under 1 % of
			// the device op time: not news.
			"tiny op below the floor",
			func() host { h := std("a", 1); h.ops["tiny"] = 2; h.comps["other"] = 2; return h }(), baseline(5), []moved{},
		},
		{
			"components unknown in the capture are not compared",
			func() host { h := std("a", 1.4); h.comps = nil; return h }(), baseline(5),
			[]moved{slower[0], slower[2], slower[3]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.cur.summary(), summaries(tt.base...), BaselineRolling, Rule{})
			if diff := cmp.Diff(tt.want, moves(got)); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if len(c.BaselineCaptureIDs) != len(tt.base) || c.Baseline != BaselineRolling || c.AgentID != "a" {
					t.Errorf("change %s: baseline %v (%s), agent %s", c.Metric, c.BaselineCaptureIDs, c.Baseline, c.AgentID)
				}
			}
		})
	}
}

// scale multiplies every time of h by k.
func scale(h host, k float64) host {
	comps, ops := map[string]float64{}, map[string]float64{}
	for n, v := range h.comps {
		comps[n] = v * k
	}
	for n, v := range h.ops {
		ops[n] = v * k
	}
	h.comps, h.ops = comps, ops
	return h
}

func TestCompareChangeFields(t *testing.T) {
	base := summaries(baseline(3)...)
	cur := std("a", 1.4).summary()
	cur.CaptureID, cur.ScheduleID, cur.Committed = "a-4", "nightly", "2026-01-02T03:04:05.000000Z"
	got := Compare(cur, base, BaselinePinned, Rule{})
	if len(got) == 0 {
		t.Fatal("no changes")
	}
	c := got[0]
	want := Change{
		CaptureID: "a-4", BaselineCaptureIDs: []string{"a-3", "a-2", "a-1"}, Baseline: BaselinePinned,
		AgentID: "a", Host: "a.example", Labels: map[string]string{"agent": "a"}, ScheduleID: "nightly",
		Committed: "2026-01-02T03:04:05.000000Z", Metric: MetricDeviceOp, Per: PerRequest,
		Before: 200.5, After: 240.5, ChangePct: 40.0 / 200.5 * 100, Direction: Regression,
		Ops: []OpDelta{
			{Operation: "attn_a", Type: "t_attn_a", Value: 112, Reference: 80, Delta: 32},
			{Operation: "attn_b", Type: "t_attn_b", Value: 28, Reference: 20, Delta: 8},
		},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Compare()[0] (-want +got):\n%s", diff)
	}
}

func TestSortChanges(t *testing.T) {
	cs := []Change{
		{Committed: "2026-01-01T00:00:00.000000Z", AgentID: "a", Metric: "op:x"},
		{Committed: "2026-01-02T00:00:00.000000Z", AgentID: "b", Metric: "component:z"},
		{Committed: "2026-01-02T00:00:00.000000Z", AgentID: "b", Metric: "device_op_us"},
		{Committed: "2026-01-02T00:00:00.000000Z", AgentID: "a", Metric: "op:y"},
	}
	SortChanges(cs)
	var got []string
	for _, c := range cs {
		got = append(got, c.AgentID+" "+c.Metric)
	}
	want := []string{"a op:y", "b device_op_us", "b component:z", "a op:x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SortChanges (-want +got):\n%s", diff)
	}
}
