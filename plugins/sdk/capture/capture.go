// Package capture is fleetprof's model of a profile capture: planes, lines and
// events with times in integer picoseconds relative to a base time, the
// non-idle windows, and summaries of what trimming dropped.
//
// It is pure Go: no I/O, no protobuf. Readers (xplane, tracejson, fpcap) turn
// files into this model at the edges, and the trim package builds it from a
// stream of raw events. Analyzers see a Capture.
package capture

import (
	"fmt"
	"strconv"
)

// Units of time, in picoseconds.
const (
	Picosecond  int64 = 1
	Nanosecond        = 1000 * Picosecond
	Microsecond       = 1000 * Nanosecond
	Millisecond       = 1000 * Microsecond
	Second            = 1000 * Millisecond
)

// Defaults for building windows.
const (
	// DefaultGap is the gap threshold: busy stretches closer than this merge.
	DefaultGap = Millisecond
	// DefaultPad widens each window on both sides.
	DefaultPad = 100 * Microsecond
)

// Capture is one trimmed profile of one host.
type Capture struct {
	// BaseNS is the base time in nanoseconds since the epoch. Every time in
	// the capture is in picoseconds relative to it.
	BaseNS int64
	// Span is the time profiled: the profiling session widened to hold every
	// event when the session is known and overlaps the events (SpanFrom is
	// SpanFromSession), else from the earliest event start to the latest
	// event end over every plane of the source (SpanFromEvents).
	Span Interval
	// SpanFrom says where Span came from: SpanFromSession or SpanFromEvents
	// (empty in captures written before it was recorded: read it as
	// SpanFromEvents).
	SpanFrom string
	// Session is the profiling session as the source (or the agent that
	// took the capture) recorded it; zero length when unknown.
	Session Interval
	// Gap and Pad are the parameters the windows were built with.
	Gap, Pad int64
	// Windows are the non-idle stretches, sorted and disjoint.
	Windows []Interval
	// EventsTotal counts every event of the source, kept or dropped.
	EventsTotal int64
	// Planes hold the kept events, in the source's order.
	Planes []*Plane
	// Dropped summarises the events trimming removed, per plane, line and name.
	Dropped []Dropped
	// Source says what the capture was read from.
	Source Source
	// Warnings met while reading, for people (an event cap reached, say).
	Warnings []string
	// Context says where the capture came from: host, labels, options.
	Context map[string]string
	// Requests are the requests a workload driver sent while profiling (not
	// its warm-ups), in sending order, timed on the host clock the
	// profiler's host events use. Empty when no workload ran.
	Requests []Request
}

// Request is one request a workload driver sent to the model server while
// the profile ran, with times relative to the capture's base time.
type Request struct {
	// ID names the request within the capture: "r1", "r2", ... in sending
	// order.
	ID string
	// Endpoint is the path it was sent to, e.g. "/v1/score".
	Endpoint string
	// Send is when it was sent, in picoseconds.
	Send int64
	// FirstByte is when the answer's first byte came; End when none came.
	FirstByte int64
	// End is when the answer was read to its end, or the request failed.
	End int64
	// Status is the HTTP status code; 0 when no answer came.
	Status int
	// Err is the transport error, if any.
	Err string
}

// Span returns the request's closed interval, from sending to its end.
func (r *Request) Span() Interval { return Interval{Start: r.Send, End: r.End} }

// OK reports whether the request was answered with a 2xx status.
func (r *Request) OK() bool { return r.Err == "" && r.Status/100 == 2 }

// The values of Capture.SpanFrom.
const (
	// SpanFromSession means the span is the profiling session, widened to
	// hold every event.
	SpanFromSession = "session"
	// SpanFromEvents means the span runs from the earliest event start to
	// the latest event end.
	SpanFromEvents = "events"
)

// Source describes what a capture was read from.
type Source struct {
	// Format is "xplane", "trace_json" or "fpcap".
	Format string
	// Name is the file's base name.
	Name string
	// Size is the source's size in bytes (uncompressed for gzip JSON), if known.
	Size int64
}

// Plane is one timeline source: a device, the host, or metadata.
type Plane struct {
	// ID is the plane's id in the source.
	ID int64
	// Name is the plane's name, e.g. "/device:TPU:0" or "/host:CPU".
	Name string
	// Stats are the plane's own stats.
	Stats []Stat
	// Lines hold the plane's kept events.
	Lines []*Line
	// Busy is, for a device plane, the length of the union of its op intervals.
	Busy int64
	// OpEvents counts, for a device plane, its op events (kept or not).
	OpEvents int64
	// OpTotal is, for a device plane, the summed durations of its op events
	// (more than Busy when ops overlap, as on several GPU streams).
	OpTotal int64
	// EventsTotal counts the plane's events in the source, kept or not.
	EventsTotal int64
}

// Line is one timeline of a plane.
type Line struct {
	// ID is the line's id in the source.
	ID int64
	// DisplayID is the id shown to people (the trace JSON's tid).
	DisplayID int64
	// Name is the line's name, e.g. "XLA Ops".
	Name string
	// DisplayName is the name shown to people, if any.
	DisplayName string
	// Events are the line's kept events, sorted by start, then longest first.
	Events []Event
}

// Event is one interval on a line, carried unchanged from the source.
type Event struct {
	// Name is the event's name.
	Name string
	// DisplayName is the name shown to people, if the source had one.
	DisplayName string
	// Start is relative to the capture's base time, in picoseconds.
	Start int64
	// Dur is the event's length in picoseconds.
	Dur int64
	// Self is Dur less the durations of the events directly nested in it on
	// its line, over every event of the source (kept or not).
	Self int64
	// Stats are the event's stats, its metadata's stats merged in.
	Stats []Stat
}

// End returns the event's end time.
func (e *Event) End() int64 { return e.Start + e.Dur }

// Interval returns the event's closed interval.
func (e *Event) Interval() Interval { return Interval{e.Start, e.Start + e.Dur} }

// Stat returns the stat with the given name and whether it is there.
func (e *Event) Stat(name string) (Stat, bool) {
	for _, s := range e.Stats {
		if s.Name == name {
			return s, true
		}
	}
	return Stat{}, false
}

// StatKind says which of a Stat's value fields is set.
type StatKind uint8

// The kinds of stat value.
const (
	StatString StatKind = iota
	StatInt
	StatUint
	StatDouble
	StatBytes
)

// Stat is one named value.
type Stat struct {
	// Name is the stat's name.
	Name string
	// Kind says which value field is set.
	Kind StatKind
	// Str holds a StatString value.
	Str string
	// Int holds a StatInt value.
	Int int64
	// Uint holds a StatUint value.
	Uint uint64
	// Double holds a StatDouble value.
	Double float64
	// Bytes holds a StatBytes value.
	Bytes []byte
}

// String formats the value as the trace JSON writes args: strings as they
// are, numbers in decimal, bytes in hexadecimal.
func (s Stat) String() string {
	switch s.Kind {
	case StatString:
		return s.Str
	case StatInt:
		return strconv.FormatInt(s.Int, 10)
	case StatUint:
		return strconv.FormatUint(s.Uint, 10)
	case StatDouble:
		return strconv.FormatFloat(s.Double, 'g', -1, 64)
	case StatBytes:
		return fmt.Sprintf("%x", s.Bytes)
	}
	return ""
}

// Dropped summarises the dropped events of one name on one line.
type Dropped struct {
	// Plane and Line index Capture.Planes and Plane.Lines.
	Plane, Line int
	// Name is the events' name.
	Name string
	// Count is how many were dropped.
	Count int64
	// Total is their summed duration in picoseconds.
	Total int64
	// Self is their summed self time in picoseconds.
	Self int64
}

// EventsKept counts the kept events.
func (c *Capture) EventsKept() int64 {
	var n int64
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			n += int64(len(l.Events))
		}
	}
	return n
}

// Devices returns the device planes that had op events, in order.
func (c *Capture) Devices() []*Plane {
	var out []*Plane
	for _, p := range c.Planes {
		if IsDevicePlane(p.Name) && p.OpEvents > 0 {
			out = append(out, p)
		}
	}
	return out
}

// DeviceOpEvents counts op events over every device plane.
func (c *Capture) DeviceOpEvents() int64 {
	var n int64
	for _, p := range c.Planes {
		if IsDevicePlane(p.Name) {
			n += p.OpEvents
		}
	}
	return n
}

// AbsPS returns a relative time as picoseconds since the epoch, split into
// whole microseconds and the picoseconds past them, which together never
// overflow.
func (c *Capture) AbsPS(rel int64) (us int64, ps int64) {
	baseUS, baseRem := c.BaseNS/1000, c.BaseNS%1000
	t := rel + baseRem*Nanosecond
	us = baseUS + t/Microsecond
	ps = t % Microsecond
	if ps < 0 {
		ps += Microsecond
		us--
	}
	return us, ps
}

// AbsMicros returns a relative time as float microseconds since the epoch,
// for reports (good to about 0.25 µs in 2026).
func (c *Capture) AbsMicros(rel int64) float64 {
	us, ps := c.AbsPS(rel)
	return float64(us) + float64(ps)/float64(Microsecond)
}
