package insight

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// SchemaVersion is the version of the Summary JSON (the NDJSON rows in the
// GCS backup). It changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// TimeLayout is how summaries and changes write times: RFC 3339 in UTC
// with six fractional digits (microseconds, what analytics engines such as
// BigQuery keep), so that the text sorts as the time does.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// TopOps is how many of a capture's ops (by total time) its summary keeps.
const TopOps = 20

// Normalisations (Summary.Per, FleetReport.Per, …): what per-capture times
// are divided by so that captures of different lengths compare.
const (
	// PerRequest divides by the workload's profiled requests.
	PerRequest = "request"
	// PerSecond divides by the seconds profiled (the capture's span).
	PerSecond = "second"
)

// Metric names. A component or op metric is the prefix and its name.
const (
	// MetricDeviceOp is the summed device op time.
	MetricDeviceOp = "device_op_us"
	// MetricDeviceOpPerRequest is the name `fleetprof trend` documents for
	// MetricDeviceOp; both mean the normalised device op time.
	MetricDeviceOpPerRequest = "device_op_us_per_request"
	// MetricIdlePct is the busiest device's idle share of the span (not
	// normalised).
	MetricIdlePct = "idle_pct"
	// ComponentPrefix starts a component's metric: "component:attention".
	ComponentPrefix = "component:"
	// OpPrefix starts an op's metric: "op:<framework op name>".
	OpPrefix = "op:"
)

// Pair is one label.
type Pair struct {
	// Key is the label's key.
	Key string `json:"key"`
	// Value is its value.
	Value string `json:"value"`
}

// Figure is a named time.
type Figure struct {
	// Name is the component's name.
	Name string `json:"name"`
	// US is its device op time over the capture, in µs.
	US float64 `json:"us"`
}

// OpFigure is one framework op's time.
type OpFigure struct {
	// Operation is the framework op's name (the top_ops section's
	// "operation").
	Operation string `json:"operation"`
	// Type is its op type.
	Type string `json:"type"`
	// US is its summed device time over the capture, in µs.
	US float64 `json:"us"`
	// Occurrences counts its events.
	Occurrences int64 `json:"occurrences"`
}

// Options are the capture options a baseline must share: two captures of
// one agent compare when their Key is equal.
type Options struct {
	// Endpoint is the workload's path, "" without a workload.
	Endpoint string `json:"endpoint"`
	// BodySHA256 is the hex SHA-256 of the workload's body.
	BodySHA256 string `json:"body_sha256"`
	// DurationMS is the profiling duration asked for (0: as long as the
	// workload, or by steps).
	DurationMS int64 `json:"duration_ms"`
	// Requests and Warmups are the workload's request counts asked for.
	Requests int32 `json:"requests"`
	// Warmups are the requests sent before profiling.
	Warmups int32 `json:"warmups"`
	// NumSteps is the step bound asked for, 0 when none.
	NumSteps int64 `json:"num_steps"`
}

// Key identifies the options a baseline must share: the workload's endpoint
// and body and the duration, as 16 hex digits.
func (o Options) Key() string {
	s := sha256.Sum256([]byte(o.Endpoint + "\x00" + o.BodySHA256 + "\x00" + strconv.FormatInt(o.DurationMS, 10)))
	return hex.EncodeToString(s[:8])
}

// BodyHash returns the hex SHA-256 of a workload body, "" for none.
func BodyHash(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// Summary is one capture's headline figures, computed once when its report
// is stored. It is what fleet reports, trends and regressions read, and its
// JSON is the documented NDJSON row of the GCS backup (docs/fleet.md).
type Summary struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schema_version"`
	// CaptureID is the capture's id.
	CaptureID string `json:"capture_id"`
	// AgentID is the agent that made it.
	AgentID string `json:"agent_id"`
	// Host is the agent's host.
	Host string `json:"host"`
	// Trigger is "manual", "fleet" or "schedule".
	Trigger string `json:"trigger"`
	// FleetID is its fleet capture, "" when none.
	FleetID string `json:"fleet_id"`
	// ScheduleID is its schedule, "" when none.
	ScheduleID string `json:"schedule_id"`
	// Committed is when the collector committed it (TimeLayout).
	Committed string `json:"committed"`
	// CommittedNS is the same time in ns since the epoch.
	CommittedNS int64 `json:"committed_ns"`
	// Status is the capture's analysis status.
	Status string `json:"status"`
	// Labels are the capture's labels, sorted by key.
	Labels []Pair `json:"labels"`
	// Options are the capture options that decide its baseline.
	Options Options `json:"options"`
	// BaselineKey is Options.Key(): captures of one agent with the same
	// key share a baseline.
	BaselineKey string `json:"baseline_key"`
	// Requests is the workload's profiled requests (the capture context's
	// requests.<endpoint> entry); 0 when unknown.
	Requests int64 `json:"requests"`
	// Per is how this capture's times are normalised on their own:
	// PerRequest with a request count, else PerSecond.
	Per string `json:"per"`
	// SpanUS is the capture's span.
	SpanUS float64 `json:"span_us"`
	// Devices counts the device planes.
	Devices int `json:"devices"`
	// DeviceBusyUS sums every device's busy time.
	DeviceBusyUS float64 `json:"device_busy_us"`
	// IdlePct is the busiest device's idle share of the span.
	IdlePct float64 `json:"idle_pct"`
	// DeviceOpUS is the summed duration of every device op event.
	DeviceOpUS float64 `json:"device_op_us"`
	// DeviceOpUSPerRequest is DeviceOpUS / Requests; null without requests.
	DeviceOpUSPerRequest *float64 `json:"device_op_us_per_request"`
	// DeviceOpUSPerSecond is DeviceOpUS per second of span; null for an
	// empty span.
	DeviceOpUSPerSecond *float64 `json:"device_op_us_per_second"`
	// HasComponents is false when the report had no components section
	// (or it failed): Components is then empty and unknown, not zero.
	HasComponents bool `json:"has_components"`
	// Components are the components section's rows, largest first.
	Components []Figure `json:"components"`
	// OpsComplete is true when Ops holds every op of the capture, so an op
	// missing from it took no time.
	OpsComplete bool `json:"ops_complete"`
	// Ops are the TopOps largest rows of the top_ops section.
	Ops []OpFigure `json:"ops"`
}

// Input is what Summarize reads: a capture's record fields, its summary and
// its report's sections.
type Input struct {
	// CaptureID, AgentID, Host, Trigger, FleetID and ScheduleID are the
	// record's.
	CaptureID, AgentID, Host, Trigger, FleetID, ScheduleID string
	// CommittedNS is the commit time, ns since the epoch.
	CommittedNS int64
	// Status is the analysis status.
	Status string
	// Labels are the capture's labels.
	Labels map[string]string
	// Options are the capture options.
	Options Options
	// Context is the capture's context (for the request count).
	Context map[string]string
	// Summary is the capture's summary.
	Summary capture.Summary
	// Sections are the report's sections.
	Sections []*sdk.Section
}

// requestsRE reads the workload's "requests.<endpoint>" context entry:
// "3 (1 warmup + 2 profiled)".
var requestsRE = regexp.MustCompile(`\(\s*\d+\s+warmups?\s*\+\s*(\d+)\s+profiled\s*\)`)

// Requests returns the workload's profiled requests from a capture's
// context: the requests.<endpoint> entry the agent writes; for endpoint ""
// any such entry (the sum when there are several). 0 when there is none.
func Requests(ctx map[string]string, endpoint string) int64 {
	var n int64
	for k, v := range ctx {
		ep, ok := strings.CutPrefix(k, "requests.")
		if !ok || (endpoint != "" && ep != endpoint) {
			continue
		}
		if m := requestsRE.FindStringSubmatch(v); m != nil {
			p, err := strconv.ParseInt(m[1], 10, 64)
			if err == nil && p > 0 {
				n += p
			}
		}
	}
	return n
}

// Summarize computes a capture's summary. Components come from whatever the
// components section holds; ops from the top_ops section.
func Summarize(in Input) Summary {
	s := Summary{
		SchemaVersion: SchemaVersion,
		CaptureID:     in.CaptureID, AgentID: in.AgentID, Host: in.Host, Trigger: in.Trigger,
		FleetID: in.FleetID, ScheduleID: in.ScheduleID, Status: in.Status,
		CommittedNS: in.CommittedNS,
		Committed:   time.Unix(0, in.CommittedNS).UTC().Format(TimeLayout),
		Options:     in.Options, BaselineKey: in.Options.Key(),
		Labels:     []Pair{},
		Components: []Figure{},
		Ops:        []OpFigure{},
	}
	for _, k := range slices.Sorted(maps.Keys(in.Labels)) {
		s.Labels = append(s.Labels, Pair{Key: k, Value: in.Labels[k]})
	}
	s.Requests = Requests(in.Context, in.Options.Endpoint)
	s.SpanUS = in.Summary.SpanUS.Float()
	s.DeviceOpUS = in.Summary.NonIdleOpUS.Float()
	s.IdlePct = math.NaN()
	for _, name := range in.Summary.DeviceOrder {
		d, ok := in.Summary.Devices[name]
		if !ok {
			continue
		}
		s.Devices++
		s.DeviceBusyUS += d.BusyUS.Float()
		if math.IsNaN(s.IdlePct) || d.IdlePct < s.IdlePct {
			s.IdlePct = d.IdlePct
		}
	}
	if math.IsNaN(s.IdlePct) {
		s.IdlePct = 100
	}
	s.fillRates()
	for _, sec := range in.Sections {
		if sec == nil || sec.Error != "" {
			continue
		}
		switch sec.Name {
		case "components":
			s.HasComponents = true
			s.Components = components(sec.Rows)
		case "top_ops":
			s.Ops, s.OpsComplete = topOps(sec.Rows)
		}
	}
	return s
}

// fillRates sets Per and the device op time per request and per second
// from the totals.
func (s *Summary) fillRates() {
	s.Per, s.DeviceOpUSPerRequest, s.DeviceOpUSPerSecond = PerSecond, nil, nil
	if s.Requests > 0 {
		s.Per = PerRequest
		v := s.DeviceOpUS / float64(s.Requests)
		s.DeviceOpUSPerRequest = &v
	}
	if s.SpanUS > 0 {
		v := s.DeviceOpUS / (s.SpanUS / 1e6)
		s.DeviceOpUSPerSecond = &v
	}
}

// components reads the components section's rows, summing repeated names.
func components(rows []sdk.Row) []Figure {
	sum := map[string]float64{}
	for _, r := range rows {
		name, _ := r["component"].(string)
		if name == "" {
			continue
		}
		sum[name] += report.Number(r["total_us"])
	}
	out := make([]Figure, 0, len(sum))
	for n, v := range sum {
		out = append(out, Figure{Name: n, US: v})
	}
	slices.SortFunc(out, func(a, b Figure) int {
		return cmp.Or(cmp.Compare(b.US, a.US), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// topOps reads the top_ops section's rows: the TopOps largest by total
// (one entry per operation, types joined), and whether they are all.
func topOps(rows []sdk.Row) ([]OpFigure, bool) {
	byName := map[string]*OpFigure{}
	var order []*OpFigure
	for _, r := range rows {
		op, _ := r["operation"].(string)
		if op == "" {
			continue
		}
		typ, _ := r["type"].(string)
		f := byName[op]
		if f == nil {
			f = &OpFigure{Operation: op, Type: typ}
			byName[op] = f
			order = append(order, f)
		} else if typ != "" && !slices.Contains(strings.Split(f.Type, ","), typ) {
			f.Type += "," + typ
		}
		f.US += report.Number(r["total_us"])
		f.Occurrences += int64(report.Number(r["occurrences"]))
	}
	out := make([]OpFigure, len(order))
	for i, f := range order {
		out[i] = *f
	}
	slices.SortFunc(out, func(a, b OpFigure) int {
		return cmp.Or(cmp.Compare(b.US, a.US), cmp.Compare(a.Operation, b.Operation))
	})
	complete := len(out) <= TopOps
	if !complete {
		out = out[:TopOps]
	}
	return out, complete
}

// LabelMap returns the summary's labels as a map.
func (s *Summary) LabelMap() map[string]string {
	m := make(map[string]string, len(s.Labels))
	for _, p := range s.Labels {
		m[p.Key] = p.Value
	}
	return m
}

// divisor is what s's times are divided by under per: its requests or its
// span in seconds; 0 when s cannot be normalised that way.
func (s *Summary) divisor(per string) float64 {
	if per == PerRequest {
		return float64(s.Requests)
	}
	return s.SpanUS / 1e6
}

// Value returns metric for s normalised by per (idle_pct is not
// normalised), and whether s knows it: a component is 0 when the capture
// has a components section without it, unknown without one; an op is 0
// when it is missing from a complete op list, unknown otherwise.
func (s *Summary) Value(metric, per string) (float64, bool) {
	if metric == MetricIdlePct {
		return s.IdlePct, true
	}
	raw, ok := s.raw(metric)
	if !ok {
		return 0, false
	}
	d := s.divisor(per)
	if d <= 0 {
		return 0, false
	}
	return raw / d, true
}

// raw returns metric's time over the whole capture, and whether s knows it.
func (s *Summary) raw(metric string) (float64, bool) {
	switch {
	case metric == MetricDeviceOp || metric == MetricDeviceOpPerRequest:
		return s.DeviceOpUS, true
	case strings.HasPrefix(metric, ComponentPrefix):
		if !s.HasComponents {
			return 0, false
		}
		name := metric[len(ComponentPrefix):]
		for _, c := range s.Components {
			if c.Name == name {
				return c.US, true
			}
		}
		return 0, true
	case strings.HasPrefix(metric, OpPrefix):
		name := metric[len(OpPrefix):]
		for _, o := range s.Ops {
			if o.Operation == name {
				return o.US, true
			}
		}
		return 0, s.OpsComplete
	}
	return 0, false
}

// opType returns the type of op name in s, "" when s does not list it.
func (s *Summary) opType(name string) string {
	for _, o := range s.Ops {
		if o.Operation == name {
			return o.Type
		}
	}
	return ""
}

// CommonPer returns how a group of summaries is normalised: PerRequest when
// every one has a request count, else PerSecond.
func CommonPer(sums []*Summary) string {
	if len(sums) == 0 {
		return PerSecond
	}
	for _, s := range sums {
		if s.Requests <= 0 {
			return PerSecond
		}
	}
	return PerRequest
}

// ValidMetric reports whether metric names a figure: device_op_us (or
// device_op_us_per_request), idle_pct, component:NAME or op:NAME.
func ValidMetric(metric string) bool {
	switch {
	case metric == MetricDeviceOp, metric == MetricDeviceOpPerRequest, metric == MetricIdlePct:
		return true
	case strings.HasPrefix(metric, ComponentPrefix):
		return len(metric) > len(ComponentPrefix)
	case strings.HasPrefix(metric, OpPrefix):
		return len(metric) > len(OpPrefix)
	}
	return false
}
