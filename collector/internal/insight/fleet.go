package insight

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// MinFleet is the fewest hosts a fleet report looks for outliers among.
const MinFleet = 3

// FleetTopOps is how many ops a fleet report aggregates and tests: those
// with the largest median time across the hosts.
const FleetTopOps = 10

// MaxExplain is how many ops an outlier or a regression lists.
const MaxExplain = 5

// Directions of an outlier.
const (
	// Slower means more time than the fleet's median.
	Slower = "slower"
	// Faster means less time than the fleet's median.
	Faster = "faster"
)

// FleetReport compares the hosts of one fleet capture.
type FleetReport struct {
	// FleetID is the fleet capture's id.
	FleetID string `json:"fleet_id"`
	// Per is how aggregates and outliers are normalised: PerRequest when
	// every host has a request count, else PerSecond.
	Per string `json:"per"`
	// Rule is the outlier rule applied, in words.
	Rule string `json:"rule"`
	// Hosts has one row per host, by agent id.
	Hosts []HostRow `json:"hosts"`
	// Aggregates are the fleet's median, p90 and max per figure.
	Aggregates Aggregates `json:"aggregates"`
	// Outliers are the hosts far from the fleet's median.
	Outliers []Outlier `json:"outliers"`
	// Notes are sentences for people ("2 hosts: nothing to compare").
	Notes []string `json:"notes"`
}

// HostRow is one host of a fleet report.
type HostRow struct {
	// AgentID is the agent's id.
	AgentID string `json:"agent_id"`
	// CaptureID is its capture in the fleet capture.
	CaptureID string `json:"capture_id"`
	// Host is its host name.
	Host string `json:"host"`
	// Labels are the capture's labels.
	Labels map[string]string `json:"labels"`
	// SpanUS is the capture's span.
	SpanUS float64 `json:"span_us"`
	// DeviceBusyUS sums the devices' busy time.
	DeviceBusyUS float64 `json:"device_busy_us"`
	// IdlePct is the busiest device's idle share.
	IdlePct float64 `json:"idle_pct"`
	// Requests is the workload's profiled requests, 0 when unknown.
	Requests int64 `json:"requests"`
	// DeviceOpUS is the summed device op time.
	DeviceOpUS float64 `json:"device_op_us"`
	// DeviceOpUSPerRequest is DeviceOpUS per request; null without a
	// request count.
	DeviceOpUSPerRequest *float64 `json:"device_op_us_per_request"`
	// DeviceOpUSPerSecond is DeviceOpUS per second profiled.
	DeviceOpUSPerSecond *float64 `json:"device_op_us_per_second"`
	// Normalized is DeviceOpUS normalised by the report's Per.
	Normalized float64 `json:"device_op_us_normalized"`
	// Components is the time of each component over the capture, µs (as
	// its report says).
	Components map[string]float64 `json:"components"`
	// Outlier is true when the host is an outlier on some figure.
	Outlier bool `json:"outlier"`
}

// Aggregates are a fleet's aggregates, normalised by FleetReport.Per.
type Aggregates struct {
	// DeviceOpUS is the device op time's.
	DeviceOpUS Stats `json:"device_op_us"`
	// IdlePct is the idle share's (not normalised).
	IdlePct Stats `json:"idle_pct"`
	// Components are each component's, by name.
	Components map[string]Stats `json:"components"`
	// Ops are the top ops', by framework op name.
	Ops map[string]Stats `json:"ops"`
}

// Outlier is one host far from the fleet on one figure.
type Outlier struct {
	// AgentID is the host's agent.
	AgentID string `json:"agent_id"`
	// CaptureID is its capture.
	CaptureID string `json:"capture_id"`
	// Host is its host name.
	Host string `json:"host"`
	// Metric is the figure: device_op_us, component:NAME or op:NAME.
	Metric string `json:"metric"`
	// Value is the host's figure, normalised by the report's Per.
	Value float64 `json:"value"`
	// Median is the fleet's median of it.
	Median float64 `json:"median"`
	// Ratio is Value / Median (0 when the median is 0).
	Ratio float64 `json:"ratio"`
	// Direction is Slower or Faster.
	Direction string `json:"direction"`
	// Ops are the ops whose time differs most from their fleet median in
	// the same direction: what explains the difference.
	Ops []OpDelta `json:"ops"`
}

// OpDelta is one op's time against a reference.
type OpDelta struct {
	// Operation is the framework op's name.
	Operation string `json:"operation"`
	// Type is its op type.
	Type string `json:"type"`
	// Value is its time, normalised.
	Value float64 `json:"value"`
	// Reference is the fleet median (outliers) or the baseline (regressions).
	Reference float64 `json:"reference"`
	// Delta is Value − Reference.
	Delta float64 `json:"delta"`
}

// RuleText describes DefaultRule for reports.
func RuleText(r Rule) string {
	return fmt.Sprintf("|x - median| > %g x %g x MAD and > %g %% of the median (MAD = 0: the %g %% rule alone), and > %g %% of the median device op time",
		r.MADs, MADScale, r.MinChange*100, r.MinChange*100, FloorShare*100)
}

// BuildFleet compares the hosts of a fleet capture, one summary each, with
// rule (DefaultRule when zero).
func BuildFleet(fleetID string, sums []Summary, rule Rule) *FleetReport {
	if rule == (Rule{}) {
		rule = DefaultRule
	}
	hosts := make([]*Summary, len(sums))
	for i := range sums {
		hosts[i] = &sums[i]
	}
	slices.SortFunc(hosts, func(a, b *Summary) int {
		return cmp.Or(cmp.Compare(a.AgentID, b.AgentID), cmp.Compare(a.CaptureID, b.CaptureID))
	})
	per := CommonPer(hosts)
	rep := &FleetReport{
		FleetID: fleetID, Per: per, Rule: RuleText(rule),
		Hosts: make([]HostRow, 0, len(hosts)), Outliers: []Outlier{}, Notes: []string{},
		Aggregates: Aggregates{Components: map[string]Stats{}, Ops: map[string]Stats{}},
	}
	for _, s := range hosts {
		row := HostRow{
			AgentID: s.AgentID, CaptureID: s.CaptureID, Host: s.Host, Labels: s.LabelMap(),
			SpanUS: s.SpanUS, DeviceBusyUS: s.DeviceBusyUS, IdlePct: s.IdlePct, Requests: s.Requests,
			DeviceOpUS: s.DeviceOpUS, DeviceOpUSPerRequest: s.DeviceOpUSPerRequest, DeviceOpUSPerSecond: s.DeviceOpUSPerSecond,
			Components: map[string]float64{},
		}
		row.Normalized, _ = s.Value(MetricDeviceOp, per)
		for _, c := range s.Components {
			row.Components[c.Name] = c.US
		}
		rep.Hosts = append(rep.Hosts, row)
	}
	if per == PerSecond && len(hosts) > 0 {
		rep.Notes = append(rep.Notes, "Not every host has a workload request count: times are compared per second profiled.")
	}

	ops := newOpStats(hosts, per)
	metrics := fleetMetrics(hosts, per, ops)
	var idle []float64
	for _, s := range hosts {
		idle = append(idle, s.IdlePct)
	}
	rep.Aggregates.IdlePct = statsOf(idle)
	deviceMedian := 0.0
	for _, m := range metrics {
		st := statsOf(m.known())
		switch {
		case m.name == MetricDeviceOp:
			rep.Aggregates.DeviceOpUS = st
			deviceMedian = st.Median
		case strings.HasPrefix(m.name, ComponentPrefix):
			rep.Aggregates.Components[m.name[len(ComponentPrefix):]] = st
		default:
			rep.Aggregates.Ops[m.name[len(OpPrefix):]] = st
		}
	}

	switch {
	case len(hosts) == 0:
		rep.Notes = append(rep.Notes, "No host of this fleet capture has a summary yet (analysis pending?).")
		return rep
	case len(hosts) < MinFleet:
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d host(s): nothing to compare; outliers need at least %d hosts.", len(hosts), MinFleet))
		return rep
	}
	rule.Floor = FloorShare * deviceMedian
	for _, m := range metrics {
		vals := m.known()
		if len(vals) < MinFleet {
			continue
		}
		med := Median(vals)
		mad := MAD(vals, med)
		r := rule
		if m.name == MetricDeviceOp {
			r.Floor = 0
		}
		for i, s := range hosts {
			if !m.ok[i] || !r.Far(m.vals[i], med, mad, len(vals)) {
				continue
			}
			o := Outlier{
				AgentID: s.AgentID, CaptureID: s.CaptureID, Host: s.Host, Metric: m.name,
				Value: m.vals[i], Median: med, Direction: Slower,
			}
			if med != 0 {
				o.Ratio = m.vals[i] / med
			}
			if m.vals[i] < med {
				o.Direction = Faster
			}
			o.Ops = explainFleet(hosts, i, ops, m.name, o.Direction, componentBound(m.name, m.vals[i]-med))
			rep.Outliers = append(rep.Outliers, o)
			rep.Hosts[i].Outlier = true
		}
	}
	if len(rep.Outliers) == 0 {
		rep.Notes = append(rep.Notes, "No outliers: every host is within the rule of the fleet's median.")
	}
	return rep
}

// metricValues is one metric over a group of summaries.
type metricValues struct {
	name string
	vals []float64
	ok   []bool
}

// known returns the values the summaries know.
func (m metricValues) known() []float64 {
	out := make([]float64, 0, len(m.vals))
	for i, v := range m.vals {
		if m.ok[i] {
			out = append(out, v)
		}
	}
	return out
}

// valuesOf returns metric over sums normalised by per.
func valuesOf(sums []*Summary, metric, per string) metricValues {
	m := metricValues{name: metric, vals: make([]float64, len(sums)), ok: make([]bool, len(sums))}
	for i, s := range sums {
		m.vals[i], m.ok[i] = s.Value(metric, per)
	}
	return m
}

// opStats are every op's values over a group of summaries and their
// median, computed once.
type opStats map[string]*opStat

// opStat is one op's values and median.
type opStat struct {
	m   metricValues
	med float64
}

// newOpStats indexes the ops any of sums lists.
func newOpStats(sums []*Summary, per string) opStats {
	names := map[string]bool{}
	for _, s := range sums {
		for _, o := range s.Ops {
			names[o.Operation] = true
		}
	}
	out := make(opStats, len(names))
	for name := range names {
		m := valuesOf(sums, OpPrefix+name, per)
		out[name] = &opStat{m: m, med: Median(m.known())}
	}
	return out
}

// top returns the n ops with the largest median, largest first, ties by
// name.
func (t opStats) top(n int) []metricValues {
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(t[b].med, t[a].med), cmp.Compare(a, b))
	})
	out := make([]metricValues, 0, min(n, len(names)))
	for _, name := range names[:min(n, len(names))] {
		out = append(out, t[name].m)
	}
	return out
}

// fleetMetrics returns the metrics a fleet report aggregates, in report
// order: the device op time, every component any host has (by name), and
// the FleetTopOps ops with the largest median (largest first).
func fleetMetrics(hosts []*Summary, per string, ops opStats) []metricValues {
	out := []metricValues{valuesOf(hosts, MetricDeviceOp, per)}
	comps := map[string]bool{}
	for _, s := range hosts {
		for _, c := range s.Components {
			comps[c.Name] = true
		}
	}
	for _, c := range sortedKeys(comps) {
		out = append(out, valuesOf(hosts, ComponentPrefix+c, per))
	}
	return append(out, ops.top(FleetTopOps)...)
}

// componentBound is how far an op of a component can have moved when the
// component moved by delta: no further (an op that moved more cannot be
// wholly in it). Other metrics have no bound (0).
func componentBound(metric string, delta float64) float64 {
	if !strings.HasPrefix(metric, ComponentPrefix) {
		return 0
	}
	return math.Abs(delta) * (1 + 1e-9)
}

// explainFleet lists the ops of host i whose time differs most from the
// fleet's median of the same op in direction dir, none by more than bound
// (when not 0): for an op metric, that op.
func explainFleet(hosts []*Summary, i int, ops opStats, metric, dir string, bound float64) []OpDelta {
	var out []OpDelta
	consider := func(name string, st *opStat) {
		if !st.m.ok[i] {
			return
		}
		d := st.m.vals[i] - st.med
		if (dir == Slower && d <= 0) || (dir == Faster && d >= 0) || (bound > 0 && math.Abs(d) > bound) {
			return
		}
		typ := hosts[i].opType(name)
		for j := 0; typ == "" && j < len(hosts); j++ {
			typ = hosts[j].opType(name)
		}
		out = append(out, OpDelta{Operation: name, Type: typ, Value: st.m.vals[i], Reference: st.med, Delta: d})
	}
	if op, ok := strings.CutPrefix(metric, OpPrefix); ok {
		if st := ops[op]; st != nil {
			consider(op, st)
		}
		return topDeltas(out)
	}
	for name, st := range ops {
		consider(name, st)
	}
	return topDeltas(out)
}

// topDeltas sorts ops by |Delta|, largest first (ties by name), and keeps
// MaxExplain of them.
func topDeltas(ops []OpDelta) []OpDelta {
	slices.SortFunc(ops, func(a, b OpDelta) int {
		return cmp.Or(cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)), cmp.Compare(a.Operation, b.Operation))
	})
	if ops == nil {
		return []OpDelta{}
	}
	return ops[:min(len(ops), MaxExplain)]
}

// sortedKeys returns m's keys, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
