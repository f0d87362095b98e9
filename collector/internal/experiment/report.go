package experiment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TopOps is how many ops the report follows: those with the most device
// time per request over every cell.
const TopOps = 10

// MetricDevice is the fits' metric for the device time per request; the
// others are "component:NAME" and "op:NAME".
const MetricDevice = "device_us_per_request"

// Report is an experiment's report: per cell the device time per request,
// per component and per top op (µs), and the scaling fits.
type Report struct {
	// ExperimentID is the experiment.
	ExperimentID string `json:"experiment_id"`
	// Name is its name, if any.
	Name string `json:"name,omitempty"`
	// Status is the experiment's: running, done or failed.
	Status string `json:"status"`
	// Message says what it is doing or how it ended.
	Message string `json:"message,omitempty"`
	// Params are the varied parameters, in the order given.
	Params []string `json:"params"`
	// Endpoints are the endpoints, in the order run.
	Endpoints []string `json:"endpoints"`
	// Components are the components met, most device time first.
	Components []string `json:"components"`
	// Ops are the top ops followed, most device time first.
	Ops []string `json:"ops"`
	// Cells are the cells, in the order run.
	Cells []CellReport `json:"cells"`
	// Fits are the scaling fits.
	Fits []FitRow `json:"fits"`
	// Notes are sentences for people.
	Notes []string `json:"notes,omitempty"`
}

// CellReport is one cell's figures, over the captures of every agent.
type CellReport struct {
	// Params are the cell's parameter values.
	Params map[string]int64 `json:"params"`
	// Endpoint is the endpoint.
	Endpoint string `json:"endpoint"`
	// CaptureIDs are its captures.
	CaptureIDs []string `json:"capture_ids"`
	// Status is the cell's: pending, running, done or failed.
	Status string `json:"status"`
	// Message is for people.
	Message string `json:"message,omitempty"`
	// Requests counts the profiled requests over its captures.
	Requests int64 `json:"requests"`
	// DeviceUSPerRequest is the device busy time inside the requests'
	// spans (the requests section) per request.
	DeviceUSPerRequest float64 `json:"device_us_per_request"`
	// Components is the device op time per request by component.
	Components map[string]float64 `json:"components"`
	// Ops is the device op time per request of the top ops.
	Ops map[string]float64 `json:"ops"`
	// PendingAnalysis lists captures without a report yet.
	PendingAnalysis []string `json:"pending_analysis,omitempty"`
}

// FitRow is one metric fitted against one parameter, the others fixed, on
// one endpoint: a line (slope, intercept, r2) and a power law through the
// log-log points (exponent, coefficient, r2_log).
type FitRow struct {
	// Endpoint is the endpoint.
	Endpoint string `json:"endpoint"`
	// Param is the parameter on the x axis.
	Param string `json:"param"`
	// Fixed are the other parameters' values.
	Fixed map[string]int64 `json:"fixed"`
	// Metric is device_us_per_request, component:NAME or op:NAME (µs per
	// request).
	Metric string `json:"metric"`
	// Points is how many cells were fitted.
	Points int `json:"points"`
	// Slope and Intercept are the line's, in µs per unit and µs.
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	// R2 is the line's R².
	R2 float64 `json:"r2"`
	// Exponent and Coefficient are the power law's: µs ≈ coefficient·x^exponent.
	Exponent    float64 `json:"exponent"`
	Coefficient float64 `json:"coefficient"`
	// R2Log is the R² of the log-log line; 0 with fewer than two positive points.
	R2Log float64 `json:"r2_log"`
}

// captureFigures is what one capture's report gives.
type captureFigures struct {
	requests   int64
	deviceUS   float64
	components map[string]float64 // µs, whole capture
	ops        map[string]float64
}

// figures reads a capture's requests, components and top_ops sections.
// fallbackRequests is used when the capture has no requests section.
func figures(r *report.Report, fallbackRequests int64) captureFigures {
	f := captureFigures{components: map[string]float64{}, ops: map[string]float64{}}
	haveRequests := false
	var opUS float64
	for _, s := range r.Sections {
		if s == nil || s.Error != "" {
			continue
		}
		switch s.Name {
		case "requests":
			haveRequests = len(s.Rows) > 0
			for _, row := range s.Rows {
				f.requests++
				f.deviceUS += 1000 * report.Number(row["device_busy_ms"])
			}
		case "components":
			for _, row := range s.Rows {
				name, _ := row["component"].(string)
				f.components[name] += report.Number(row["total_us"])
				opUS += report.Number(row["total_us"])
			}
		case "top_ops":
			for _, row := range s.Rows {
				name, _ := row["operation"].(string)
				f.ops[name] += report.Number(row["total_us"])
			}
		}
	}
	if !haveRequests {
		f.requests, f.deviceUS = fallbackRequests, opUS
	}
	return f
}

// Compute builds an experiment's report from its captures' reports (by
// capture id; a capture missing from reps has none yet).
func Compute(e *store.Experiment, reps map[string]*report.Report) (*Report, error) {
	var spec collectorv1.ExperimentSpec
	if err := proto.Unmarshal(e.Spec, &spec); err != nil {
		return nil, fmt.Errorf("%w: experiment %s: spec: %v", store.ErrCorrupt, e.ID, err)
	}
	out := &Report{ExperimentID: e.ID, Name: spec.GetName(), Status: e.Status, Message: e.Message, Cells: []CellReport{}, Fits: []FitRow{}}
	for _, p := range spec.GetVary() {
		out.Params = append(out.Params, p.GetName())
	}
	compTotal, opTotal := map[string]float64{}, map[string]float64{}
	allOps := make([]map[string]float64, len(e.Cells))
	for i, c := range e.Cells {
		if !slices.Contains(out.Endpoints, c.Endpoint) {
			out.Endpoints = append(out.Endpoints, c.Endpoint)
		}
		cr := CellReport{Params: c.Params, Endpoint: c.Endpoint, CaptureIDs: slices.Clone(c.CaptureIDs), Status: c.Status, Message: c.Message,
			Components: map[string]float64{}, Ops: map[string]float64{}}
		if cr.CaptureIDs == nil {
			cr.CaptureIDs = []string{}
		}
		var wlRequests int64
		if w := workloadOf(c); w != nil {
			wlRequests = int64(w.GetRequests())
		}
		var device float64
		comps, ops := map[string]float64{}, map[string]float64{}
		for _, id := range c.CaptureIDs {
			r := reps[id]
			if r == nil {
				cr.PendingAnalysis = append(cr.PendingAnalysis, id)
				continue
			}
			f := figures(r, wlRequests)
			cr.Requests += f.requests
			device += f.deviceUS
			for k, v := range f.components {
				comps[k] += v
			}
			for k, v := range f.ops {
				ops[k] += v
			}
		}
		if cr.Requests > 0 {
			n := float64(cr.Requests)
			cr.DeviceUSPerRequest = device / n
			for k, v := range comps {
				cr.Components[k] = v / n
				compTotal[k] += v / n
			}
			for k, v := range ops {
				ops[k] = v / n
				opTotal[k] += v / n
			}
			allOps[i] = ops
		}
		out.Cells = append(out.Cells, cr)
	}
	out.Components = byTotal(compTotal, 0)
	out.Ops = byTotal(opTotal, TopOps)
	for i := range out.Cells {
		for _, op := range out.Ops {
			if v, ok := allOps[i][op]; ok {
				out.Cells[i].Ops[op] = v
			}
		}
	}
	out.Fits = fits(out)
	pending := 0
	for _, c := range out.Cells {
		pending += len(c.PendingAnalysis)
	}
	if pending > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d capture(s) have no report yet: their cells count only the captures analyzed.", pending))
	}
	out.Notes = append(out.Notes,
		"Device time per request is the device busy time inside the requests' spans (the requests section) over the requests profiled; components and ops are their device op time over the same requests. Fits are least squares over the cells that share the other parameters: a line (µs = intercept + slope·x) and a power law through the log-log points (µs ≈ coefficient·x^exponent).")
	return out, nil
}

// workloadOf decodes a cell's workload, or returns nil.
func workloadOf(c store.ExperimentCell) *agentv1.Workload {
	var w agentv1.Workload
	if len(c.Workload) == 0 || proto.Unmarshal(c.Workload, &w) != nil {
		return nil
	}
	return &w
}

// byTotal returns the keys of m by value descending, then name; at most n
// (all when n ≤ 0).
func byTotal(m map[string]float64, n int) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	if n > 0 && len(keys) > n {
		keys = keys[:n]
	}
	if keys == nil {
		keys = []string{}
	}
	return keys
}

// metrics lists the fitted metrics: the device time, each component, each
// top op.
func metrics(r *Report) []string {
	out := []string{MetricDevice}
	for _, c := range r.Components {
		out = append(out, "component:"+c)
	}
	for _, o := range r.Ops {
		out = append(out, "op:"+o)
	}
	return out
}

// Value returns a cell's figure for a metric.
func (c *CellReport) Value(metric string) float64 {
	switch {
	case metric == MetricDevice:
		return c.DeviceUSPerRequest
	case strings.HasPrefix(metric, "component:"):
		return c.Components[strings.TrimPrefix(metric, "component:")]
	case strings.HasPrefix(metric, "op:"):
		return c.Ops[strings.TrimPrefix(metric, "op:")]
	}
	return 0
}

// fixedKey is the other parameters' values as text, for grouping.
func fixedKey(params map[string]int64, except string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if k != except {
			parts = append(parts, k+"="+strconv.FormatInt(params[k], 10))
		}
	}
	return strings.Join(parts, ",")
}

// groupCells groups endpoint ep's cells with requests by the values of
// every parameter but param; order is the groups' keys as first met.
func groupCells(r *Report, ep, param string) (order []string, groups map[string][]*CellReport) {
	groups = map[string][]*CellReport{}
	for i := range r.Cells {
		c := &r.Cells[i]
		if c.Endpoint != ep || c.Requests == 0 {
			continue
		}
		k := fixedKey(c.Params, param)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	return order, groups
}

// fits fits every metric against every parameter, per endpoint and per
// combination of the other parameters, over the cells with requests.
func fits(r *Report) []FitRow {
	out := []FitRow{}
	for _, ep := range r.Endpoints {
		for _, p := range r.Params {
			order, groups := groupCells(r, ep, p)
			for _, k := range order {
				cells := groups[k]
				fixed := map[string]int64{}
				for name, v := range cells[0].Params {
					if name != p {
						fixed[name] = v
					}
				}
				for _, m := range metrics(r) {
					var xs, ys []float64
					for _, c := range cells {
						xs = append(xs, float64(c.Params[p]))
						ys = append(ys, c.Value(m))
					}
					line, ok := LineFit(xs, ys)
					if !ok {
						continue
					}
					row := FitRow{Endpoint: ep, Param: p, Fixed: fixed, Metric: m, Points: line.N,
						Slope: line.Slope, Intercept: line.Intercept, R2: line.R2}
					if k, a, r2, _, ok := PowerFit(xs, ys); ok {
						row.Exponent, row.Coefficient, row.R2Log = k, a, r2
					}
					out = append(out, row)
				}
			}
		}
	}
	return out
}

// Build reads an experiment's captures' reports from the store and
// computes its report.
func Build(ctx context.Context, db *store.DB, e *store.Experiment) (*Report, error) {
	reps := map[string]*report.Report{}
	for _, c := range e.Cells {
		for _, id := range c.CaptureIDs {
			r, err := analysis.Stored(ctx, db, id)
			switch {
			case err == nil:
				reps[id] = r
			case errors.Is(err, analysis.ErrNoReport), errors.Is(err, store.ErrNotFound):
				// Not analyzed yet, or deleted since: counted as pending.
			default:
				return nil, fmt.Errorf("read the report of %s: %w", id, err)
			}
		}
	}
	return Compute(e, reps)
}

// FitsFor returns the fits of one metric against one parameter on one
// endpoint, in the report's order.
func (r *Report) FitsFor(endpoint, param, metric string) []FitRow {
	var out []FitRow
	for _, f := range r.Fits {
		if f.Endpoint == endpoint && f.Param == param && f.Metric == metric {
			out = append(out, f)
		}
	}
	return out
}
