// Package requests is the requests analyzer: each request a capture's
// workload sent, with the device time, host work and waiting inside its
// span, so "where is the delay" is answered per request.
//
// A request's span runs from when the agent's workload driver sent it to
// when its answer ended, on the host clock the profiler's host events use.
// Device busy time (the union of every device's ops) inside the span is the
// request's; where several requests are in flight at once, as when a server
// batches them together, each stretch's device time is split evenly among
// them and the split part is marked shared, so the requests' device times
// sum to the device busy time inside their spans. Host time is the host's
// own work (its kept events, less the python tracer's frames and waits)
// while no device was busy, split the same way; the rest of the latency is
// waiting: queueing, the network, and other requests' turns.
package requests

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/components"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Name is the section's name.
const Name = "requests"

// maxLanes bounds the requests the timeline chart draws, one lane each.
const maxLanes = 24

// Analyzer attributes a capture's device and host time to the requests its
// workload sent (Capture.Requests).
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        Name,
		Title:       "Requests",
		Version:     figure.Version,
		Description: "Each workload request's latency split into device time (shared evenly among requests in flight together), host work and waiting, with its top component.",
		Order:       55,
	}
}

var columns = []sdk.Column{
	{Key: "request", Label: "Request"},
	{Key: "endpoint", Label: "Endpoint"},
	{Key: "latency_ms", Label: "Latency", Unit: "ms"},
	{Key: "device_busy_ms", Label: "Device busy", Unit: "ms"},
	{Key: "shared_ms", Label: "of it shared", Unit: "ms"},
	{Key: "windows", Label: "Windows"},
	{Key: "host_ms", Label: "Host", Unit: "ms"},
	{Key: "wait_ms", Label: "Waiting", Unit: "ms"},
	{Key: "top_component", Label: "Top component"},
}

// ms converts picoseconds to milliseconds.
func ms(ps int64) float64 { return float64(ps) / float64(capture.Millisecond) }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rules, _, err := components.Rules(in.Options[components.RulesOption])
	if err != nil {
		return nil, fmt.Errorf("requests: read the %q option: %w", components.RulesOption, err)
	}
	c := in.Capture
	s := &sdk.Section{Name: Name, Title: "Requests", Columns: columns, Rows: []sdk.Row{}}
	if len(c.Requests) == 0 {
		s.Notes = append(s.Notes, "No workload ran with this capture, so there are no requests to attribute: capture with --workload-body to see each request's device time, host work and waiting.")
		return s, nil
	}
	var busy, host []capture.Interval
	var ot []OpTime
	for op := range ops.DeviceOps(c) {
		iv := op.Event.Interval()
		busy = append(busy, iv)
		ot = append(ot, OpTime{Span: iv, Key: rules.Component(op)})
	}
	for _, p := range c.Planes {
		if !capture.IsHostPlane(p.Name) {
			continue
		}
		for _, l := range p.Lines {
			for i := range l.Events {
				if ev := &l.Events[i]; hostWork(ev.Name) {
					host = append(host, ev.Interval())
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spans := make([]capture.Interval, len(c.Requests))
	for i := range c.Requests {
		spans[i] = c.Requests[i].Span()
	}
	a := Attribute(spans, capture.Union(busy), capture.Union(host), c.Windows, ot)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var shared, failed int64
	lat := make([]float64, 0, len(c.Requests))
	for i := range c.Requests {
		r, sh := &c.Requests[i], &a.Shares[i]
		latency := r.End - r.Send
		shared += sh.Shared
		if !r.OK() {
			failed++
		}
		lat = append(lat, ms(latency))
		s.Rows = append(s.Rows, sdk.Row{
			"request": r.ID, "endpoint": r.Endpoint,
			"latency_ms": ms(latency), "device_busy_ms": ms(sh.Device), "shared_ms": ms(sh.Shared),
			"windows": int64(sh.Windows), "host_ms": ms(sh.Host), "wait_ms": ms(latency - sh.Device - sh.Host),
			"top_component": top(sh.Ops),
		})
	}
	slices.Sort(lat)
	s.Summary = []sdk.Metric{
		{Key: "requests", Label: "Requests", Value: float64(len(c.Requests))},
		{Key: "failed", Label: "Failed requests", Value: float64(failed)},
		{Key: "latency_p50_ms", Label: "Latency p50", Value: lat[(len(lat)-1)/2], Unit: "ms"},
		{Key: "device_busy_ms", Label: "Device busy in requests", Value: ms(a.InSpans), Unit: "ms"},
		{Key: "shared_ms", Label: "of it shared", Value: ms(shared), Unit: "ms"},
		{Key: "unattributed_device_ms", Label: "Device busy outside every request", Value: ms(a.Busy - a.InSpans), Unit: "ms"},
	}
	s.Charts = []sdk.Chart{timeline(c, a)}
	s.Notes = append(s.Notes,
		"A request's span runs from when the agent sent it to the end of its answer, timed on the host clock the profiler's host events use. Device busy time inside it is the request's; while several requests are in flight (overlapping, or batched together by the server) each stretch is split evenly among them and the split part is shown as shared, so the requests' device times add up to the device busy time inside their spans.",
		"Host is the server's own host work (kept host events, without the python tracer's frames and waits) while no device was busy, split the same way; waiting is the rest of the latency: queueing, the network, and other requests' turns. Top component ranks the device op time inside the span by the bucketing rules.")
	if a.Busy > a.InSpans {
		s.Notes = append(s.Notes, fmt.Sprintf("%.3f ms of device busy time fell outside every request's span: other traffic, or work the server did after answering.", ms(a.Busy-a.InSpans)))
	}
	if len(c.Devices()) == 0 {
		s.Notes = append(s.Notes, figure.NoDeviceOps(c))
	}
	return s, nil
}

// hostWork reports whether a host event is the server's own work: not a
// python tracer frame ("$file.py:N name", which include the idle loop) and
// not a wait.
func hostWork(name string) bool {
	if strings.HasPrefix(name, "$") {
		return false
	}
	n := strings.ToLower(name)
	return !strings.Contains(n, "wait") && !strings.Contains(n, "idle") && !strings.Contains(n, "sleep")
}

// top returns the key with the most time, ties to the first by name; "" for
// none.
func top(m map[string]float64) string {
	best, bestV := "", 0.0
	for k, v := range m {
		if v > bestV || (v == bestV && v > 0 && k < best) {
			best, bestV = k, v
		}
	}
	return best
}

// timeline draws the first requests as lanes above the windows.
func timeline(c *capture.Capture, a Attribution) sdk.Chart {
	us := func(t int64) float64 { return float64(t-c.Span.Start) / float64(capture.Microsecond) }
	ch := sdk.Chart{Kind: sdk.ChartTimeline, Title: "Requests above the device's non-idle windows", Unit: "us"}
	n := min(len(c.Requests), maxLanes)
	order := make([]int, len(c.Requests))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(c.Requests[x].Send, c.Requests[y].Send) })
	for _, i := range order[:n] {
		r := &c.Requests[i]
		label := fmt.Sprintf("%s %.3f ms device", r.ID, ms(a.Shares[i].Device))
		ch.Spans = append(ch.Spans, sdk.Span{Lane: r.ID, Label: label, Start: us(r.Send), End: us(r.End)})
	}
	for _, w := range c.Windows {
		ch.Spans = append(ch.Spans, sdk.Span{Lane: "windows", Start: us(w.Start), End: us(w.End)})
	}
	return ch
}
