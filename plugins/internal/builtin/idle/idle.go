// Package idle is the idle analyzer: how long each device was busy and idle
// over the capture, and where the non-idle windows are.
package idle

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Analyzer measures each device's busy time (the union of its op intervals)
// and idle time (span − busy) against the capture's span, device by device:
// idle is never summed across devices. It also describes the non-idle
// windows and draws them on a timeline.
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "idle",
		Title:       "Device idle vs non-idle",
		Version:     figure.Version,
		Description: "Per device: capture span, busy and idle time, idle %; the non-idle windows and a timeline of them.",
		Order:       40,
	}
}

// The timeline's lanes are "capture" (one span: the whole capture), "windows"
// (the non-idle windows, labelled "#1 1.162 ms" and so on) and one lane per
// device, named after its plane, holding its busy intervals.

// MaxSpans bounds the spans of one timeline lane: busy intervals closer than
// span/MaxSpans are drawn as one.
const MaxSpans = 2000

var columns = []sdk.Column{
	{Key: "device", Label: "Device"},
	{Key: "span_us", Label: "Span", Unit: "us"},
	{Key: "busy_us", Label: "Busy", Unit: "us"},
	{Key: "idle_us", Label: "Idle", Unit: "us"},
	{Key: "idle_pct", Label: "Idle %", Unit: "%"},
	{Key: "op_events", Label: "Op events"},
}

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	c := in.Capture
	span := c.Span.Len()
	devices := c.Devices()
	s := &sdk.Section{
		Name:    "idle",
		Title:   "Device idle vs non-idle",
		Columns: columns,
		Rows:    make([]sdk.Row, 0, len(devices)),
	}
	timeline := sdk.Chart{Kind: "timeline", Title: "Non-idle windows and device busy time", Unit: "us",
		Spans: []sdk.Span{{Lane: "capture", Label: "span " + figure.Duration(span), Start: 0, End: figure.US(span)}}}
	for i, w := range c.Windows {
		timeline.Spans = append(timeline.Spans, sdk.Span{
			Lane:  "windows",
			Label: fmt.Sprintf("#%d %s", i+1, figure.Duration(w.Len())),
			Start: figure.US(w.Start - c.Span.Start),
			End:   figure.US(w.End - c.Span.Start),
		})
	}
	busyBars := sdk.Chart{Kind: "bar", Title: "Busy time per device", Unit: "us"}
	minIdle, maxIdle := 100.0, 0.0
	for _, p := range devices {
		idle := span - p.Busy
		pct := figure.Pct(idle, span)
		minIdle, maxIdle = min(minIdle, pct), max(maxIdle, pct)
		s.Rows = append(s.Rows, sdk.Row{
			"device":    p.Name,
			"span_us":   figure.US(span),
			"busy_us":   figure.US(p.Busy),
			"idle_us":   figure.US(idle),
			"idle_pct":  pct,
			"op_events": p.OpEvents,
		})
		busyBars.Bars = append(busyBars.Bars, sdk.Bar{Label: p.Name, Value: figure.US(p.Busy)})
		for _, iv := range coarse(busyIntervals(p), span/MaxSpans) {
			timeline.Spans = append(timeline.Spans, sdk.Span{
				Lane:  p.Name,
				Start: figure.US(iv.Start - c.Span.Start),
				End:   figure.US(iv.End - c.Span.Start),
			})
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	s.Summary = append(s.Summary,
		sdk.Metric{Key: "span_us", Label: "Capture span", Value: figure.US(span), Unit: "us"},
		sdk.Metric{Key: "devices", Label: "Devices", Value: float64(len(devices))},
	)
	if len(devices) > 0 {
		if len(devices) == 1 {
			s.Summary = append(s.Summary, sdk.Metric{Key: "idle_pct", Label: "Device idle", Value: minIdle, Unit: "%"})
		} else {
			s.Summary = append(s.Summary,
				sdk.Metric{Key: "min_idle_pct", Label: "Least idle device", Value: minIdle, Unit: "%"},
				sdk.Metric{Key: "max_idle_pct", Label: "Most idle device", Value: maxIdle, Unit: "%"})
		}
	}
	s.Summary = append(s.Summary, windowMetrics(c)...)
	s.Charts = []sdk.Chart{timeline}
	if len(devices) > 1 {
		s.Charts = append(s.Charts, busyBars)
	}
	if len(devices) == 0 {
		s.Notes = append(s.Notes, figure.NoDeviceOps(in.Capture))
		return s, nil
	}
	s.Notes = append(s.Notes,
		"Busy is the length of the union of a device's op intervals; idle is the capture span minus busy. Each device is measured on its own: idle is never summed across devices.",
		fmt.Sprintf("Windows are the union of every device's busy time, with stretches less than %.0f us apart merged and %.0f us of padding on each side; trimming keeps the events that meet them.",
			figure.US(c.Gap), figure.US(c.Pad)))
	return s, nil
}

// windowMetrics describes the windows: how many, how long in all, the
// shortest and longest, and the longest idle gap between two of them.
func windowMetrics(c *capture.Capture) []sdk.Metric {
	w := c.Windows
	total := capture.TotalLen(w)
	out := []sdk.Metric{
		{Key: "windows", Label: "Non-idle windows", Value: float64(len(w))},
		{Key: "windows_us", Label: "Time in windows", Value: figure.US(total), Unit: "us"},
		{Key: "windows_pct", Label: "Share of span in windows", Value: figure.Pct(total, c.Span.Len()), Unit: "%"},
	}
	if len(w) == 0 {
		return out
	}
	lens := make([]int64, len(w))
	for i, x := range w {
		lens[i] = x.Len()
	}
	out = append(out,
		sdk.Metric{Key: "shortest_window_us", Label: "Shortest window", Value: figure.US(slices.Min(lens)), Unit: "us"},
		sdk.Metric{Key: "longest_window_us", Label: "Longest window", Value: figure.US(slices.Max(lens)), Unit: "us"})
	if len(w) > 1 {
		gaps := make([]int64, len(w)-1)
		for i := range gaps {
			gaps[i] = w[i+1].Start - w[i].End
		}
		out = append(out,
			sdk.Metric{Key: "shortest_gap_us", Label: "Shortest gap between windows", Value: figure.US(slices.Min(gaps)), Unit: "us"},
			sdk.Metric{Key: "longest_gap_us", Label: "Longest gap between windows", Value: figure.US(slices.Max(gaps)), Unit: "us"})
	}
	return out
}

// busyIntervals returns the union of a device plane's kept op intervals.
func busyIntervals(p *capture.Plane) []capture.Interval {
	var iv []capture.Interval
	for _, l := range p.Lines {
		if !capture.IsOpLine(l.Name) {
			continue
		}
		for i := range l.Events {
			iv = append(iv, l.Events[i].Interval())
		}
	}
	return capture.Union(iv)
}

// coarse merges sorted, disjoint intervals less than res apart, so a lane
// holds at most about MaxSpans of them.
func coarse(iv []capture.Interval, res int64) []capture.Interval {
	if len(iv) == 0 {
		return iv
	}
	out := iv[:1]
	for _, x := range iv[1:] {
		last := &out[len(out)-1]
		if x.Start-last.End < res {
			last.End = max(last.End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}
