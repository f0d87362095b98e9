package insight

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// flagged is an outlier reduced to what the tests compare.
type flagged struct {
	Agent, Metric, Direction string
	Value, Median            float64
	Ops                      []string
}

func flags(r *FleetReport) []flagged {
	out := []flagged{}
	for _, o := range r.Outliers {
		f := flagged{Agent: o.AgentID, Metric: o.Metric, Direction: o.Direction, Value: o.Value, Median: o.Median}
		for _, op := range o.Ops {
			f.Ops = append(f.Ops, op.Operation)
		}
		out = append(out, f)
	}
	return out
}

func TestBuildFleetOutliers(t *testing.T) {
	slowC := []flagged{
		{"c", "device_op_us", Slower, 240.5, 200.5, []string{"attn_a", "attn_b"}},
		{"c", "component:attention", Slower, 140, 100, []string{"attn_a", "attn_b"}},
		{"c", "op:attn_a", Slower, 112, 80, []string{"attn_a"}},
		{"c", "op:attn_b", Slower, 28, 20, []string{"attn_b"}},
	}
	tests := []struct {
		name  string
		hosts []host
		per   string
		want  []flagged
		note  string
	}{
		{"no hosts", nil, PerSecond, []flagged{}, "No host of this fleet capture has a summary yet"},
		{"one host", []host{std("a", 1.4)}, PerRequest, []flagged{}, "1 host(s): nothing to compare"},
		{"two hosts", []host{std("a", 1), std("b", 1.4)}, PerRequest, []flagged{}, "2 host(s): nothing to compare"},
		{"identical hosts", []host{std("a", 1), std("b", 1), std("c", 1), std("d", 1)}, PerRequest, []flagged{}, "No outliers"},
		{"one slow of three", []host{std("a", 1), std("b", 1), std("c", 1.4)}, PerRequest, slowC, ""},
		{"order of input does not matter", []host{std("c", 1.4), std("b", 1), std("a", 1)}, PerRequest, slowC, ""},
		{"5 % slower is no outlier", []host{std("a", 1), std("b", 1), std("c", 1.05)}, PerRequest, []flagged{}, "No outliers"},
		{"one fast of three", []host{std("a", 1), std("b", 1), std("c", 0.5)}, PerRequest, []flagged{
			{"c", "device_op_us", Faster, 150.5, 200.5, []string{"attn_a", "attn_b"}},
			{"c", "component:attention", Faster, 50, 100, []string{"attn_a", "attn_b"}},
			{"c", "op:attn_a", Faster, 40, 80, []string{"attn_a"}},
			{"c", "op:attn_b", Faster, 10, 20, []string{"attn_b"}},
		}, ""},
		{
			// Device op per request 50, 60, 45, 55, 65: median 55, MAD 5,
			// 3 scaled MADs 22.2: 65 is 18 % above but within them.
			"noisy fleet, no outlier",
			[]host{noisy("a", 100), noisy("b", 120), noisy("c", 90), noisy("d", 110), noisy("e", 130)},
			PerRequest, []flagged{}, "No outliers",
		},
		{
			// Adding 100/request: median 57.5, MAD 7.5, 3 scaled MADs 33.4:
			// 100 is 42.5 away.
			"noisy fleet, one outlier",
			[]host{noisy("a", 100), noisy("b", 120), noisy("c", 90), noisy("d", 110), noisy("e", 130), noisy("f", 200)},
			PerRequest, []flagged{{"f", "device_op_us", Slower, 100, 57.5, []string{"x"}}, {"f", "op:x", Slower, 100, 57.5, []string{"x"}}}, "",
		},
		{
			// No workload: 100, 200 and 400 µs over 1, 2 and 4 s are all
			// 100 µs per second; the fourth host's 300 µs in 2 s is 150.
			"different durations compare per second",
			[]host{span("a", 100, 1), span("b", 200, 2), span("c", 400, 4), span("d", 300, 2)},
			PerSecond, []flagged{{"d", "device_op_us", Slower, 150, 100, []string{"x"}}, {"d", "op:x", Slower, 150, 100, []string{"x"}}}, "",
		},
		{
			"same durations, no outlier per second",
			[]host{span("a", 100, 1), span("b", 200, 2), span("c", 400, 4)},
			PerSecond, []flagged{}, "No outliers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := BuildFleet("f1", summaries(tt.hosts...), Rule{})
			if r.Per != tt.per {
				t.Errorf("Per = %q, want %q", r.Per, tt.per)
			}
			if diff := cmp.Diff(tt.want, flags(r)); diff != "" {
				t.Errorf("outliers (-want +got):\n%s", diff)
			}
			if tt.note != "" && !strings.Contains(strings.Join(r.Notes, " "), tt.note) {
				t.Errorf("Notes = %q, want one saying %q", r.Notes, tt.note)
			}
			if len(r.Hosts) != len(tt.hosts) {
				t.Errorf("%d host rows, want %d", len(r.Hosts), len(tt.hosts))
			}
			for _, h := range r.Hosts {
				want := false
				for _, f := range tt.want {
					want = want || f.Agent == h.AgentID
				}
				if h.Outlier != want {
					t.Errorf("host %s Outlier = %v, want %v", h.AgentID, h.Outlier, want)
				}
			}
		})
	}
}

// noisy is a host with one op x of us µs over two requests.
func noisy(agent string, us float64) host {
	return host{agent: agent, requests: 2, ops: map[string]float64{"x": us}}
}

// span is a host without a workload: one op x of us µs over secs seconds.
func span(agent string, us, secs float64) host {
	return host{agent: agent, spanUS: secs * 1e6, ops: map[string]float64{"x": us}}
}

func TestBuildFleetAggregatesAndRows(t *testing.T) {
	hs := []host{std("a", 1), std("b", 1), std("c", 1.4)}
	hs[0].idle = 90
	hs[1].idle = 95
	hs[2].idle = 99
	r := BuildFleet("f1", summaries(hs...), Rule{})
	want := Aggregates{
		DeviceOpUS: Stats{Median: 200.5, P90: 240.5, Max: 240.5, MAD: 0, N: 3},
		IdlePct:    Stats{Median: 95, P90: 99, Max: 99, MAD: 4, N: 3},
		Components: map[string]Stats{
			"attention": {Median: 100, P90: 140, Max: 140, N: 3},
			"mlp":       {Median: 100, P90: 100, Max: 100, N: 3},
			"other":     {Median: 0.5, P90: 0.5, Max: 0.5, N: 3},
		},
		Ops: map[string]Stats{
			"mlp_a":  {Median: 100, P90: 100, Max: 100, N: 3},
			"attn_a": {Median: 80, P90: 112, Max: 112, N: 3},
			"attn_b": {Median: 20, P90: 28, Max: 28, N: 3},
			"tiny":   {Median: 0.5, P90: 0.5, Max: 0.5, N: 3},
		},
	}
	if diff := cmp.Diff(want, r.Aggregates); diff != "" {
		t.Errorf("Aggregates (-want +got):\n%s", diff)
	}
	c := r.Hosts[2]
	if c.AgentID != "c" || c.DeviceOpUS != 481 || *c.DeviceOpUSPerRequest != 240.5 || c.Normalized != 240.5 ||
		c.Components["attention"] != 280 || c.Requests != 2 || !c.Outlier {
		t.Errorf("host c row = %+v", c)
	}
}

func TestBuildFleetUnknownFigures(t *testing.T) {
	// d has no components section and a partial op list without attn_b:
	// it counts for neither, and the three others decide.
	d := std("d", 3)
	d.comps = nil
	d.partial = true
	delete(d.ops, "attn_b")
	hs := []host{std("a", 1), std("b", 1), std("c", 1), d}
	r := BuildFleet("f1", summaries(hs...), Rule{})
	if got := r.Aggregates.Components["attention"].N; got != 3 {
		t.Errorf("attention counted over %d hosts, want 3", got)
	}
	if got := r.Aggregates.Ops["attn_b"].N; got != 3 {
		t.Errorf("attn_b counted over %d hosts, want 3", got)
	}
	var metrics []string
	for _, o := range r.Outliers {
		metrics = append(metrics, o.AgentID+" "+o.Metric)
	}
	want := []string{"d device_op_us", "d op:attn_a"}
	if diff := cmp.Diff(want, metrics); diff != "" {
		t.Errorf("outliers (-want +got):\n%s", diff)
	}
	// A complete list without an op means the op took no time.
	e := std("e", 1)
	delete(e.ops, "attn_b")
	r = BuildFleet("f1", summaries(std("a", 1), std("b", 1), std("c", 1), e), Rule{})
	if got := r.Aggregates.Ops["attn_b"]; got.N != 4 || got.Median != 20 {
		t.Errorf("attn_b = %+v, want 4 hosts, median 20", got)
	}
}

func TestBuildFleetMixedRequestsPerSecond(t *testing.T) {
	a, b, c := std("a", 1), std("b", 1), std("c", 1)
	c.requests = 0
	r := BuildFleet("f1", summaries(a, b, c), Rule{})
	if r.Per != PerSecond || r.Hosts[0].Normalized != 401 {
		t.Errorf("Per = %q, host a normalised %v; want second, 401", r.Per, r.Hosts[0].Normalized)
	}
	if r.Hosts[2].DeviceOpUSPerRequest != nil {
		t.Errorf("host c per request = %v, want null", *r.Hosts[2].DeviceOpUSPerRequest)
	}
}

func TestExplainBoundedByComponent(t *testing.T) {
	// c is slower on attention (+32 and +8 per request on its two ops) and
	// on mlp (+20): an op that moved by 32 cannot be in mlp.
	c := std("c", 1.4)
	c.comps["mlp"], c.ops["mlp_a"] = 240, 240
	r := BuildFleet("f1", summaries(std("a", 1), std("b", 1), c), Rule{})
	got := map[string][]string{}
	for _, o := range r.Outliers {
		for _, op := range o.Ops {
			got[o.Metric] = append(got[o.Metric], op.Operation)
		}
	}
	want := map[string][]string{
		"device_op_us":        {"attn_a", "mlp_a", "attn_b"},
		"component:attention": {"attn_a", "mlp_a", "attn_b"},
		"component:mlp":       {"mlp_a", "attn_b"},
		"op:attn_a":           {"attn_a"},
		"op:attn_b":           {"attn_b"},
		"op:mlp_a":            {"mlp_a"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("explaining ops (-want +got):\n%s", diff)
	}
	base := summaries(baseline(3)...)
	cur := c.summary()
	for _, ch := range Compare(cur, base, BaselineRolling, Rule{}) {
		if ch.Metric == "component:mlp" {
			var ops []string
			for _, op := range ch.Ops {
				ops = append(ops, op.Operation)
			}
			if diff := cmp.Diff([]string{"mlp_a", "attn_b"}, ops); diff != "" {
				t.Errorf("regression of mlp explained by (-want +got):\n%s", diff)
			}
		}
	}
}
