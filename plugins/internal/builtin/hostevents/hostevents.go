// Package hostevents is the host_events analyzer: what the host's threads
// did, by event name, with total and self time.
package hostevents

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Analyzer groups the events of the host plane (/host:CPU) by name over the
// whole capture: the kept events and the summaries of those trimming dropped,
// so a scheduler's idle polling between requests still shows.
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "host_events",
		Title:       "Host events",
		Version:     figure.Version,
		Description: "Host (/host:CPU) events by name over the whole capture: count, total time and self time.",
		Order:       50,
	}
}

var columns = []sdk.Column{
	{Key: "name", Label: "Event"},
	{Key: "count", Label: "Count"},
	{Key: "total_us", Label: "Total", Unit: "us"},
	{Key: "self_us", Label: "Self", Unit: "us"},
}

type group struct {
	name               string
	count, total, self int64
}

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	c := in.Capture
	index := make(map[string]int)
	var groups []group
	add := func(name string, count, total, self int64) {
		i, ok := index[name]
		if !ok {
			i = len(groups)
			index[name] = i
			groups = append(groups, group{name: name})
		}
		g := &groups[i]
		g.count += count
		g.total += total
		g.self += self
	}
	var kept, dropped, planes int64
	for pi, p := range c.Planes {
		if !capture.IsHostPlane(p.Name) {
			continue
		}
		planes++
		for _, l := range p.Lines {
			for i := range l.Events {
				ev := &l.Events[i]
				add(ev.Name, 1, ev.Dur, ev.Self)
				kept++
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, d := range c.Dropped {
			if d.Plane == pi {
				add(d.Name, d.Count, d.Total, d.Self)
				dropped += d.Count
			}
		}
	}
	slices.SortFunc(groups, func(a, b group) int {
		return figure.ByTotal(figure.Total{Name: a.name, PS: a.total}, figure.Total{Name: b.name, PS: b.total})
	})
	shown, cut := figure.Cut(groups)
	s := &sdk.Section{
		Name:    "host_events",
		Title:   "Host events",
		Columns: columns,
		Rows:    make([]sdk.Row, 0, len(shown)),
		Summary: []sdk.Metric{
			{Key: "events", Label: "Host events", Value: float64(kept + dropped)},
			{Key: "events_kept", Label: "Kept by trimming", Value: float64(kept)},
			{Key: "events_dropped", Label: "Dropped by trimming (summarised)", Value: float64(dropped)},
			{Key: "names", Label: "Distinct names", Value: float64(len(groups))},
		},
	}
	for _, g := range shown {
		s.Rows = append(s.Rows, sdk.Row{"name": g.name, "count": g.count, "total_us": figure.US(g.total), "self_us": figure.US(g.self)})
	}
	bySelf := slices.Clone(groups)
	slices.SortFunc(bySelf, func(a, b group) int {
		return figure.ByTotal(figure.Total{Name: a.name, PS: a.self}, figure.Total{Name: b.name, PS: b.self})
	})
	s.Charts = []sdk.Chart{
		figure.TopBars("Host events by total time", shown, func(g group) sdk.Bar { return sdk.Bar{Label: g.name, Value: figure.US(g.total)} }),
		figure.TopBars("Host events by self time", bySelf, func(g group) sdk.Bar { return sdk.Bar{Label: g.name, Value: figure.US(g.self)} }),
	}
	if planes == 0 {
		s.Notes = append(s.Notes, "The capture has no "+capture.HostPlaneName+" plane: host tracing was off (host_tracer_level=0) or this is a device-only capture.")
		return s, nil
	}
	s.Notes = append(s.Notes,
		"Total is the summed duration of the events of that name; a caller and its callees each count their own, so totals overlap. Self is total minus the events directly nested in it on the same thread: self times do not overlap.",
		fmt.Sprintf("Counted over the whole capture: %d events kept by trimming and %d dropped ones, from their summaries.", kept, dropped))
	if cut > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d more names are not listed.", cut))
	}
	return s, nil
}
