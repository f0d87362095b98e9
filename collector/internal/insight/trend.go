package insight

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"
)

// Trend is one metric over time: a series per host and the fleet's median.
type Trend struct {
	// Metric is the figure followed.
	Metric string `json:"metric"`
	// Per is how times are normalised: PerRequest when every capture has
	// a request count, else PerSecond (idle_pct is not normalised).
	Per string `json:"per"`
	// Series has one series per agent, by agent id.
	Series []Series `json:"series"`
	// Median is the median over hosts of each fleet capture (a capture
	// outside any fleet capture is its own point), in time order.
	Median []MedianPoint `json:"median"`
	// Skipped counts captures that do not know the metric (no components
	// section, or an op outside a partial op list).
	Skipped int `json:"skipped"`
	// Truncated is set when the oldest captures selected were left out to
	// bound the trend.
	Truncated bool `json:"truncated,omitempty"`
}

// Series is one host's points.
type Series struct {
	// AgentID is the agent's id.
	AgentID string `json:"agent_id"`
	// Host is its host name (its latest capture's).
	Host string `json:"host"`
	// Points are its captures, oldest first.
	Points []Point `json:"points"`
}

// Point is one capture's value.
type Point struct {
	// CaptureID is the capture's id.
	CaptureID string `json:"capture_id"`
	// Time is when it was committed.
	Time time.Time `json:"time"`
	// Value is the metric's value.
	Value float64 `json:"value"`
}

// MedianPoint is the fleet's median at one fleet capture.
type MedianPoint struct {
	// FleetID is the fleet capture, "" for a lone capture.
	FleetID string `json:"fleet_id"`
	// Time is the earliest commit time among its captures.
	Time time.Time `json:"time"`
	// Value is the median of its hosts' values.
	Value float64 `json:"value"`
	// Hosts counts them.
	Hosts int `json:"hosts"`
}

// BuildTrend follows metric over sums (in any order).
func BuildTrend(metric string, sums []Summary) *Trend {
	ptrs := make([]*Summary, len(sums))
	for i := range sums {
		ptrs[i] = &sums[i]
	}
	slices.SortStableFunc(ptrs, func(a, b *Summary) int {
		return cmp.Or(cmp.Compare(a.CommittedNS, b.CommittedNS), cmp.Compare(a.CaptureID, b.CaptureID))
	})
	t := &Trend{Metric: metric, Per: CommonPer(ptrs), Series: []Series{}, Median: []MedianPoint{}}
	if metric == MetricIdlePct {
		t.Per = ""
	}
	series := map[string]*Series{}
	type group struct {
		first int64
		vals  []float64
	}
	groups := map[string]*group{}
	var order []string
	for _, s := range ptrs {
		v, ok := s.Value(metric, t.Per)
		if !ok {
			t.Skipped++
			continue
		}
		at := time.Unix(0, s.CommittedNS).UTC()
		sr := series[s.AgentID]
		if sr == nil {
			sr = &Series{AgentID: s.AgentID}
			series[s.AgentID] = sr
		}
		sr.Host = s.Host
		sr.Points = append(sr.Points, Point{CaptureID: s.CaptureID, Time: at, Value: v})
		key := "fleet\x00" + s.FleetID
		if s.FleetID == "" {
			key = "capture\x00" + s.CaptureID
		}
		g := groups[key]
		if g == nil {
			g = &group{first: s.CommittedNS}
			groups[key] = g
			order = append(order, key)
		}
		g.vals = append(g.vals, v)
	}
	for _, id := range slices.Sorted(maps.Keys(series)) {
		t.Series = append(t.Series, *series[id])
	}
	for _, key := range order {
		g := groups[key]
		fleet := ""
		if k, ok := strings.CutPrefix(key, "fleet\x00"); ok {
			fleet = k
		}
		t.Median = append(t.Median, MedianPoint{FleetID: fleet, Time: time.Unix(0, g.first).UTC(), Value: Median(g.vals), Hosts: len(g.vals)})
	}
	slices.SortStableFunc(t.Median, func(a, b MedianPoint) int { return a.Time.Compare(b.Time) })
	return t
}
