package insight

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Directions of a regression row.
const (
	// Regression means the figure grew (more time).
	Regression = "regression"
	// Improvement means it shrank.
	Improvement = "improvement"
)

// Baseline kinds (Regression.Baseline).
const (
	// BaselineRolling is the median of the last captures of the same agent
	// and options.
	BaselineRolling = "rolling"
	// BaselinePinned is one capture pinned with `fleetprof baseline pin`.
	BaselinePinned = "pinned"
)

// DefaultBaselineSize is how many earlier captures a rolling baseline holds.
const DefaultBaselineSize = 5

// RegressionOps is how many ops (largest baseline or current time) are
// compared besides the device op time and the components.
const RegressionOps = 10

// Change is one figure of a capture that moved against its baseline: a
// regression or an improvement.
type Change struct {
	// CaptureID is the new capture.
	CaptureID string `json:"capture_id"`
	// BaselineCaptureIDs are the captures it was compared with, newest
	// first.
	BaselineCaptureIDs []string `json:"baseline_capture_ids"`
	// Baseline is BaselineRolling or BaselinePinned.
	Baseline string `json:"baseline"`
	// AgentID is the agent.
	AgentID string `json:"agent_id"`
	// Host is its host.
	Host string `json:"host"`
	// Labels are the new capture's labels.
	Labels map[string]string `json:"labels"`
	// ScheduleID is the new capture's schedule, "" when none.
	ScheduleID string `json:"schedule_id"`
	// Committed is when the new capture was committed (TimeLayout).
	Committed string `json:"committed"`
	// Metric is the figure: device_op_us, component:NAME or op:NAME.
	Metric string `json:"metric"`
	// Per is the normalisation: PerRequest or PerSecond.
	Per string `json:"per"`
	// Before is the baseline's median, normalised.
	Before float64 `json:"before"`
	// After is the new capture's value, normalised.
	After float64 `json:"after"`
	// ChangePct is (After − Before) / Before × 100 (0 when Before is 0).
	ChangePct float64 `json:"change_pct"`
	// Direction is Regression or Improvement.
	Direction string `json:"direction"`
	// Ops are the ops that moved most in the same direction.
	Ops []OpDelta `json:"ops"`
}

// Compare compares cur with its baseline captures (newest first) by rule
// (DefaultRule when zero; its MinChange is the threshold) and returns the
// figures that moved: the device op time, each component either knows, and
// the RegressionOps largest ops of either. No baseline, no changes.
func Compare(cur Summary, base []Summary, kind string, rule Rule) []Change {
	if len(base) == 0 {
		return nil
	}
	if rule == (Rule{}) {
		rule = DefaultRule
	}
	bs := make([]*Summary, len(base))
	ids := make([]string, len(base))
	for i := range base {
		bs[i] = &base[i]
		ids[i] = base[i].CaptureID
	}
	per := CommonPer(append([]*Summary{&cur}, bs...))
	baseOps := newOpStats(bs, per)
	curOps := newOpStats([]*Summary{&cur}, per)

	metrics := []string{MetricDeviceOp}
	comps := map[string]bool{}
	if cur.HasComponents {
		for _, c := range cur.Components {
			comps[c.Name] = true
		}
		for _, b := range bs {
			for _, c := range b.Components {
				comps[c.Name] = true
			}
		}
	}
	for _, c := range sortedKeys(comps) {
		metrics = append(metrics, ComponentPrefix+c)
	}
	opNames := map[string]bool{}
	for _, m := range baseOps.top(RegressionOps) {
		opNames[m.name[len(OpPrefix):]] = true
	}
	for _, m := range curOps.top(RegressionOps) {
		opNames[m.name[len(OpPrefix):]] = true
	}
	for _, o := range sortedKeys(opNames) {
		metrics = append(metrics, OpPrefix+o)
	}

	baseDevice := Median(valuesOf(bs, MetricDeviceOp, per).known())
	var out []Change
	for _, metric := range metrics {
		after, ok := cur.Value(metric, per)
		if !ok {
			continue
		}
		vals := valuesOf(bs, metric, per).known()
		if len(vals) == 0 {
			continue
		}
		med := Median(vals)
		r := rule
		if metric != MetricDeviceOp {
			r.Floor = FloorShare * baseDevice
		}
		if !r.Far(after, med, MAD(vals, med), len(vals)) {
			continue
		}
		c := Change{
			CaptureID: cur.CaptureID, BaselineCaptureIDs: ids, Baseline: kind, AgentID: cur.AgentID, Host: cur.Host,
			Labels: cur.LabelMap(), ScheduleID: cur.ScheduleID, Committed: cur.Committed,
			Metric: metric, Per: per, Before: med, After: after, Direction: Regression,
		}
		if med != 0 {
			c.ChangePct = (after - med) / med * 100
		}
		if after < med {
			c.Direction = Improvement
		}
		c.Ops = explainChange(&cur, bs, per, baseOps, metric, c.Direction, componentBound(metric, after-med))
		out = append(out, c)
	}
	return out
}

// explainChange lists the ops of cur that moved most against the baseline
// in direction dir, none by more than bound (when not 0): for an op metric,
// that op.
func explainChange(cur *Summary, bs []*Summary, per string, baseOps opStats, metric, dir string, bound float64) []OpDelta {
	names := map[string]bool{}
	if op, ok := strings.CutPrefix(metric, OpPrefix); ok {
		names[op] = true
	} else {
		for _, o := range cur.Ops {
			names[o.Operation] = true
		}
		for n := range baseOps {
			names[n] = true
		}
	}
	var out []OpDelta
	for _, name := range sortedKeys(names) {
		v, ok := cur.Value(OpPrefix+name, per)
		if !ok {
			continue
		}
		st := baseOps[name]
		if st == nil {
			st = &opStat{m: valuesOf(bs, OpPrefix+name, per)}
			st.med = Median(st.m.known())
		}
		if len(st.m.known()) == 0 {
			continue
		}
		d := v - st.med
		if (dir == Regression && d <= 0) || (dir == Improvement && d >= 0) || (bound > 0 && math.Abs(d) > bound) {
			continue
		}
		typ := cur.opType(name)
		for j := 0; typ == "" && j < len(bs); j++ {
			typ = bs[j].opType(name)
		}
		out = append(out, OpDelta{Operation: name, Type: typ, Value: v, Reference: st.med, Delta: d})
	}
	return topDeltas(out)
}

// SortChanges orders changes newest first, then by agent and metric.
func SortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(strings.Compare(b.Committed, a.Committed), cmp.Compare(a.AgentID, b.AgentID),
			cmp.Compare(a.CaptureID, b.CaptureID), cmp.Compare(metricRank(a.Metric), metricRank(b.Metric)),
			cmp.Compare(a.Metric, b.Metric))
	})
}

// metricRank orders metrics: the device op time, components, ops.
func metricRank(m string) int {
	switch {
	case m == MetricDeviceOp:
		return 0
	case strings.HasPrefix(m, ComponentPrefix):
		return 1
	}
	return 2
}
