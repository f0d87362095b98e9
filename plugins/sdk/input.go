package sdk

import (
	"iter"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// EventRef is one kept event and where it sits.
type EventRef struct {
	// Plane is the event's plane.
	Plane *capture.Plane
	// Line is the event's line in that plane.
	Line *capture.Line
	// Event is the event, as kept in the capture.
	Event *capture.Event
}

// DroppedRef is one dropped-event summary and where its events sat.
type DroppedRef struct {
	// Plane is the events' plane.
	Plane *capture.Plane
	// Line is their line in that plane.
	Line *capture.Line
	// Dropped is the summary: name, count, total and self time.
	Dropped *capture.Dropped
}

// Events iterates over every kept event, plane by plane and line by line,
// each line in start order.
func (in *Input) Events() iter.Seq[EventRef] {
	return in.events(func(*capture.Plane, *capture.Line) bool { return true })
}

// HostEvents iterates over the kept events of the host plane ("/host:CPU").
// The dropped host events are in Dropped.
func (in *Input) HostEvents() iter.Seq[EventRef] {
	return in.events(func(p *capture.Plane, _ *capture.Line) bool { return capture.IsHostPlane(p.Name) })
}

// DeviceOps iterates over the op events of every device plane, each with
// its operation, op type and category as xprof names them (see
// ops.FrameworkOp and ops.Category). Trimming keeps every device op, so these
// are all of them. See package ops for grouping.
func (in *Input) DeviceOps() iter.Seq[ops.Op] { return ops.DeviceOps(in.Capture) }

// EventsIn iterates over the kept events whose closed interval meets w,
// line by line; w is usually one of Capture.Windows.
func (in *Input) EventsIn(w capture.Interval) iter.Seq[EventRef] {
	return func(yield func(EventRef) bool) {
		for _, p := range in.Capture.Planes {
			for _, l := range p.Lines {
				for i := range l.Events {
					e := &l.Events[i]
					if e.Start > w.End {
						break // sorted by start: no later event can meet w
					}
					if e.End() >= w.Start && !yield(EventRef{p, l, e}) {
						return
					}
				}
			}
		}
	}
}

// Dropped iterates over the summaries of the events trimming dropped (per
// plane, line and name), with their plane and line resolved. Summaries that
// name no plane or line of the capture are skipped.
func (in *Input) Dropped() iter.Seq[DroppedRef] {
	return func(yield func(DroppedRef) bool) {
		c := in.Capture
		for i := range c.Dropped {
			d := &c.Dropped[i]
			if d.Plane < 0 || d.Plane >= len(c.Planes) {
				continue
			}
			p := c.Planes[d.Plane]
			if d.Line < 0 || d.Line >= len(p.Lines) {
				continue
			}
			if !yield(DroppedRef{p, p.Lines[d.Line], d}) {
				return
			}
		}
	}
}

// events iterates over the kept events of the lines keep accepts.
func (in *Input) events(keep func(*capture.Plane, *capture.Line) bool) iter.Seq[EventRef] {
	return func(yield func(EventRef) bool) {
		for _, p := range in.Capture.Planes {
			for _, l := range p.Lines {
				if !keep(p, l) {
					continue
				}
				for i := range l.Events {
					if !yield(EventRef{p, l, &l.Events[i]}) {
						return
					}
				}
			}
		}
	}
}
