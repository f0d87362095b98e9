package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
)

// Insights is what the fleet, agent, schedule and regression pages need of
// the collector's watch.
type Insights interface {
	// Fleet compares the hosts of a fleet capture.
	Fleet(ctx context.Context, fleetID string) (*insight.FleetReport, error)
	// Trend follows a figure over the captures a query selects.
	Trend(ctx context.Context, q watch.TrendQuery) (*insight.Trend, error)
	// Changes lists stored regressions (and improvements).
	Changes(ctx context.Context, q watch.ChangeQuery) ([]insight.Change, error)
}

// insightPages are the templates of the insight pages.
var insightPages = []string{"fleet", "regressions", "agent", "schedule"}

// insightRoutes are the insight pages' routes; none without Insights.
func (u *UI) insightRoutes() []route {
	if u.cfg.Insights == nil {
		return nil
	}
	return []route{
		{"GET /fleets/{id}", u.fleet},
		{"GET /regressions", u.regressions},
		{"GET /agents/{id}", u.agent},
		{"GET /schedules/{id}", u.schedule},
	}
}

// chartHTML is one of our own SVG charts for a template: every text in it
// is escaped by the report package.
func chartHTML(svg []byte) template.HTML { return template.HTML(svg) }

// num formats a time in µs (or a percentage) for a table.
func num(v float64) string { return numfmt.MicrosValue(v) }

// unitText names the unit of normalised times.
func unitText(per string) string {
	switch per {
	case insight.PerRequest:
		return "µs per request"
	case insight.PerSecond:
		return "µs per second profiled"
	}
	return "%"
}

// parseAgo reads a "since" field: a duration back from now that may count
// days (7d, 1d12h, 24h) or an RFC 3339 time; "" means def.
func parseAgo(s string, now time.Time, def time.Duration) (time.Time, error) {
	if s == "" {
		return now.Add(-def), nil
	}
	if days, rest, ok := strings.Cut(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			var d time.Duration
			if rest != "" {
				if d, err = time.ParseDuration(rest); err != nil || d < 0 {
					return time.Time{}, fmt.Errorf("since %q: want 7d, 24h or an RFC 3339 time", s)
				}
			}
			return now.Add(-time.Duration(n)*24*time.Hour - d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: want 7d, 24h or an RFC 3339 time", s)
	}
	return t, nil
}

type outlierRow struct {
	AgentID, CaptureID, Metric, Direction string
	Value, Median, Ratio                  string
	Ops                                   []opRow
}

type opRow struct {
	Operation, Type, Value, Reference, Delta string
}

type fleetHostRow struct {
	AgentID, Host, CaptureID, Span, Idle, Requests, DeviceOp, Normalized string
	Components                                                           []string
	Outlier                                                              bool
}

type aggRow struct {
	Name, Median, P90, Max string
}

func opRows(ops []insight.OpDelta) []opRow {
	out := make([]opRow, 0, len(ops))
	for _, op := range ops {
		out = append(out, opRow{Operation: op.Operation, Type: op.Type, Value: num(op.Value), Reference: num(op.Reference), Delta: numfmt.Signed(op.Delta, "us")})
	}
	return out
}

// fleet is the fleet page: hosts, aggregates, outliers and the chart.
func (u *UI) fleet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rep, err := u.cfg.Insights.Fleet(r.Context(), id)
	switch {
	case errors.Is(err, watch.ErrNoFleet), errors.Is(err, store.ErrBadID):
		u.notFound(w, r, "No analyzed capture of fleet capture "+id+" yet: the id is unknown, or its analysis is pending.")
		return
	case err != nil:
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	comps := make([]string, 0, len(rep.Aggregates.Components))
	for c := range rep.Aggregates.Components {
		comps = append(comps, c)
	}
	slices.SortFunc(comps, func(a, b string) int {
		return cmp.Or(cmp.Compare(rep.Aggregates.Components[b].Median, rep.Aggregates.Components[a].Median), cmp.Compare(a, b))
	})
	data := struct {
		R          *insight.FleetReport
		Unit       string
		Chart      template.HTML
		Components []string
		Hosts      []fleetHostRow
		Outliers   []outlierRow
		Aggs       []aggRow
	}{R: rep, Unit: unitText(rep.Per), Chart: chartHTML(report.StackedSVG(insight.FleetChart(rep))), Components: comps}
	for _, h := range rep.Hosts {
		row := fleetHostRow{
			AgentID: h.AgentID, Host: h.Host, CaptureID: h.CaptureID, Span: numfmt.Fixed(h.SpanUS/1e6, 3) + " s",
			Idle: numfmt.Fixed(h.IdlePct, 2), Requests: numfmt.Int(h.Requests),
			DeviceOp: num(h.DeviceOpUS), Normalized: num(h.Normalized), Outlier: h.Outlier,
		}
		for _, c := range comps {
			v, ok := h.Components[c]
			switch {
			case !ok:
				row.Components = append(row.Components, "–")
			case h.DeviceOpUS > 0 && h.Normalized > 0:
				row.Components = append(row.Components, num(v/(h.DeviceOpUS/h.Normalized)))
			default:
				row.Components = append(row.Components, num(0))
			}
		}
		data.Hosts = append(data.Hosts, row)
	}
	for _, o := range rep.Outliers {
		ratio := "–"
		if o.Median != 0 {
			ratio = fmt.Sprintf("%.2f×", o.Ratio)
		}
		data.Outliers = append(data.Outliers, outlierRow{
			AgentID: o.AgentID, CaptureID: o.CaptureID, Metric: o.Metric, Direction: o.Direction,
			Value: num(o.Value), Median: num(o.Median), Ratio: ratio, Ops: opRows(o.Ops),
		})
	}
	agg := func(name string, s insight.Stats) {
		data.Aggs = append(data.Aggs, aggRow{name, num(s.Median), num(s.P90), num(s.Max)})
	}
	agg("device op time", rep.Aggregates.DeviceOpUS)
	for _, c := range comps {
		agg("component "+c, rep.Aggregates.Components[c])
	}
	ops := make([]string, 0, len(rep.Aggregates.Ops))
	for op := range rep.Aggregates.Ops {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b string) int {
		return cmp.Or(cmp.Compare(rep.Aggregates.Ops[b].Median, rep.Aggregates.Ops[a].Median), cmp.Compare(a, b))
	})
	for _, op := range ops {
		agg("op "+op, rep.Aggregates.Ops[op])
	}
	u.render(w, http.StatusOK, "fleet", &page{Title: "Fleet capture " + id, Nav: "captures", Data: &data})
}

type changeRow struct {
	Committed, AgentID, CaptureID, Metric, Direction string
	Before, After, Change, Baseline, Per             string
	BaselineIDs                                      []string
	Ops                                              []opRow
	Regression                                       bool
}

// changeRows formats changes for a table.
func changeRows(cs []insight.Change) []changeRow {
	out := make([]changeRow, 0, len(cs))
	for _, c := range cs {
		committed := c.Committed
		if len(committed) >= 19 {
			committed = strings.Replace(committed[:19], "T", " ", 1)
		}
		row := changeRow{
			Committed: committed, AgentID: c.AgentID, CaptureID: c.CaptureID, Metric: c.Metric, Direction: c.Direction,
			Before: num(c.Before), After: num(c.After), Change: numfmt.Change(c.ChangePct), Baseline: c.Baseline,
			Per: c.Per, BaselineIDs: c.BaselineCaptureIDs, Regression: c.Direction == insight.Regression,
		}
		if !strings.HasPrefix(c.Metric, insight.OpPrefix) {
			row.Ops = opRows(c.Ops)
		}
		out = append(out, row)
	}
	return out
}

// regressions is the regressions page.
func (u *UI) regressions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := struct {
		Since, Selector string
		Improvements    bool
		Rows            []changeRow
	}{Since: q.Get("since"), Selector: q.Get("selector"), Improvements: q.Get("improvements") != ""}
	if data.Since == "" {
		data.Since = "24h"
	}
	p := &page{Title: "Regressions", Nav: "regressions", Data: &data}
	since, err := parseAgo(data.Since, u.cfg.Now(), 24*time.Hour)
	if err != nil {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "regressions", p)
		return
	}
	sel, err := selector.Parse(data.Selector)
	if err != nil {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "regressions", p)
		return
	}
	cs, err := u.cfg.Insights.Changes(r.Context(), watch.ChangeQuery{Since: since, Selector: sel, Improvements: data.Improvements, Limit: 500})
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	data.Rows = changeRows(cs)
	u.render(w, http.StatusOK, "regressions", p)
}

// trendView is a trend chart and its latest points on a page.
type trendView struct {
	Metric, Since, Unit string
	Chart               template.HTML
	Points              []pointRow
	Fleets              []fleetPoint
	Skipped             int
}

type pointRow struct {
	Time, AgentID, CaptureID, Value string
}

type fleetPoint struct {
	Time, FleetID, Value string
	Hosts                int
}

// maxPoints is how many of the latest points a page lists.
const maxPoints = 50

// trend builds a page's trend from the query's metric and since fields.
func (u *UI) trend(r *http.Request, q watch.TrendQuery) (*trendView, error) {
	v := &trendView{Metric: r.URL.Query().Get("metric"), Since: r.URL.Query().Get("since")}
	if v.Metric == "" {
		v.Metric = insight.MetricDeviceOpPerRequest
	}
	if v.Since == "" {
		v.Since = "7d"
	}
	since, err := parseAgo(v.Since, u.cfg.Now(), 7*24*time.Hour)
	if err != nil {
		return v, fmt.Errorf("%w: %v", watch.ErrBadQuery, err)
	}
	q.Metric, q.Since = v.Metric, since
	t, err := u.cfg.Insights.Trend(r.Context(), q)
	if err != nil {
		return v, err
	}
	v.Unit, v.Skipped = unitText(t.Per), t.Skipped
	v.Chart = chartHTML(report.LinesSVG(insight.TrendChart(t, v.Metric+" ("+v.Unit+")")))
	var pts []pointRow
	for _, s := range t.Series {
		for _, p := range s.Points {
			pts = append(pts, pointRow{Time: p.Time.Format("2006-01-02 15:04:05"), AgentID: s.AgentID, CaptureID: p.CaptureID, Value: num(p.Value)})
		}
	}
	slices.SortStableFunc(pts, func(a, b pointRow) int { return cmp.Compare(b.Time, a.Time) })
	v.Points = pts[:min(len(pts), maxPoints)]
	for i := len(t.Median) - 1; i >= 0 && len(v.Fleets) < maxPoints; i-- {
		m := t.Median[i]
		if m.FleetID != "" {
			v.Fleets = append(v.Fleets, fleetPoint{Time: m.Time.Format("2006-01-02 15:04:05"), FleetID: m.FleetID, Value: num(m.Value), Hosts: m.Hosts})
		}
	}
	return v, nil
}

// agent is an agent's page: its record, the trend of its captures and its
// latest regressions.
func (u *UI) agent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var a *store.Agent
	err := u.cfg.Store.View(r.Context(), func(rd *store.Reader) error {
		var err error
		a, err = rd.Agent(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, "No agent "+id+" is known.")
		return
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	data := struct {
		A        *store.Agent
		Labels   []kv
		LastSeen string
		Trend    *trendView
		Changes  []changeRow
	}{A: a, Labels: sortedPairs(a.Labels), LastSeen: utc(time.Unix(0, a.LastSeenNS))}
	p := &page{Title: "Agent " + id, Nav: "agents", Data: &data}
	data.Trend, err = u.trend(r, watch.TrendQuery{AgentID: id})
	if errors.Is(err, watch.ErrBadQuery) {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "agent", p)
		return
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	cs, err := u.cfg.Insights.Changes(r.Context(), watch.ChangeQuery{AgentID: id, Improvements: true, Limit: 20})
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	data.Changes = changeRows(cs)
	u.render(w, http.StatusOK, "agent", p)
}

// schedule is a schedule's page: its spec, the trend of its captures (the
// fleet median and the hosts) and its fleet captures.
func (u *UI) schedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s, err := u.cfg.Schedules.Get(r.Context(), id)
	if err != nil {
		u.notFound(w, r, "No schedule "+id+".")
		return
	}
	data := struct {
		S     store.Schedule
		Trend *trendView
	}{S: s}
	p := &page{Title: "Schedule " + s.Name, Nav: "schedules", Data: &data}
	data.Trend, err = u.trend(r, watch.TrendQuery{ScheduleID: s.ID})
	if errors.Is(err, watch.ErrBadQuery) {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "schedule", p)
		return
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	u.render(w, http.StatusOK, "schedule", p)
}
