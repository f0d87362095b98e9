package fpcap

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

func header(c *capture.Capture) *capturev1.Header {
	h := &capturev1.Header{
		FormatVersion:  FormatVersion,
		BaseTimeNs:     c.BaseNS,
		SpanStartPs:    c.Span.Start,
		SpanEndPs:      c.Span.End,
		SpanFrom:       c.SpanFrom,
		SessionStartPs: c.Session.Start,
		SessionEndPs:   c.Session.End,
		GapPs:          c.Gap,
		PadPs:          c.Pad,
		EventsTotal:    c.EventsTotal,
		SourceFormat:   c.Source.Format,
		SourceName:     c.Source.Name,
		Warnings:       slices.Clone(c.Warnings),
		Context:        maps.Clone(c.Context),
	}
	for _, w := range c.Windows {
		h.Windows = append(h.Windows, &capturev1.Window{StartPs: w.Start, EndPs: w.End})
	}
	for _, r := range c.Requests {
		h.Requests = append(h.Requests, &capturev1.Request{
			Id: r.ID, Endpoint: r.Endpoint, SendPs: r.Send, FirstBytePs: r.FirstByte, EndPs: r.End,
			Status: int32(r.Status), Error: r.Err,
		})
	}
	return h
}

func plane(i int, p *capture.Plane) *capturev1.Plane {
	out := &capturev1.Plane{
		Index: int32(i), Id: p.ID, Name: p.Name, Stats: stats(p.Stats),
		BusyPs: p.Busy, OpEvents: p.OpEvents, EventsTotal: p.EventsTotal, OpTotalPs: p.OpTotal,
	}
	for li, l := range p.Lines {
		out.Lines = append(out.Lines, &capturev1.Line{
			Index: int32(li), Id: l.ID, DisplayId: l.DisplayID, Name: l.Name, DisplayName: l.DisplayName,
		})
	}
	return out
}

func event(e *capture.Event) *capturev1.Event {
	return &capturev1.Event{
		Name: e.Name, DisplayName: e.DisplayName, StartPs: e.Start, DurationPs: e.Dur,
		SelfPs: e.Self, Stats: stats(e.Stats),
	}
}

func stats(in []capture.Stat) []*capturev1.Stat {
	if len(in) == 0 {
		return nil
	}
	out := make([]*capturev1.Stat, len(in))
	for i, s := range in {
		st := &capturev1.Stat{Name: s.Name}
		switch s.Kind {
		case capture.StatString:
			st.Value = &capturev1.Stat_StrValue{StrValue: s.Str}
		case capture.StatInt:
			st.Value = &capturev1.Stat_Int64Value{Int64Value: s.Int}
		case capture.StatUint:
			st.Value = &capturev1.Stat_Uint64Value{Uint64Value: s.Uint}
		case capture.StatDouble:
			st.Value = &capturev1.Stat_DoubleValue{DoubleValue: s.Double}
		case capture.StatBytes:
			st.Value = &capturev1.Stat_BytesValue{BytesValue: s.Bytes}
		}
		out[i] = st
	}
	return out
}

func fromStats(in []*capturev1.Stat) []capture.Stat {
	if len(in) == 0 {
		return nil
	}
	out := make([]capture.Stat, len(in))
	for i, s := range in {
		st := capture.Stat{Name: s.GetName()}
		switch v := s.GetValue().(type) {
		case *capturev1.Stat_StrValue:
			st.Kind, st.Str = capture.StatString, v.StrValue
		case *capturev1.Stat_Int64Value:
			st.Kind, st.Int = capture.StatInt, v.Int64Value
		case *capturev1.Stat_Uint64Value:
			st.Kind, st.Uint = capture.StatUint, v.Uint64Value
		case *capturev1.Stat_DoubleValue:
			st.Kind, st.Double = capture.StatDouble, v.DoubleValue
		case *capturev1.Stat_BytesValue:
			st.Kind, st.Bytes = capture.StatBytes, v.BytesValue
		}
		out[i] = st
	}
	return out
}

// Options tune NewBuilderWith and ReadWith. The zero value applies the
// default Limits and keeps every event.
type Options struct {
	// Limits bound what the capture may cost to decode.
	Limits Limits
	// SkipEvents checks and counts every event but keeps none: the lines
	// come back empty, for a caller that needs only the header, the planes
	// and the count of kept events (Builder.EventsKept). The limits apply
	// as if the events were kept.
	SkipEvents bool
}

// Builder assembles a Capture from records in stream order, refusing
// (ErrLimit) a capture that passes its Limits.
type Builder struct {
	c    *capture.Capture
	seen int64
	kept int64
	done bool

	lim   Limits
	skip  bool
	total counts // what the records so far add up to
	read  int64  // their bytes on the wire
	// admitted is the size of the record Admit checked last, which the
	// next Add accounts for; 0 means Add measures the record itself.
	admitted int64
}

// NewBuilder returns an empty Builder with the default Limits.
func NewBuilder() *Builder { return NewBuilderWith(Options{}) }

// NewBuilderWith returns an empty Builder with o's limits and choices.
func NewBuilderWith(o Options) *Builder {
	return &Builder{lim: o.Limits.withDefaults(), skip: o.SkipEvents}
}

// Done reports whether the footer has been added.
func (b *Builder) Done() bool { return b.done }

// EventsKept counts the events added so far, kept or (SkipEvents) not.
func (b *Builder) EventsKept() int64 { return b.kept }

// Admit checks, before it is decoded, whether the record whose wire form is
// wire would take the capture past its limits (ErrLimit) or is malformed
// (ErrMalformed); the next Add then accounts for its size. A caller that
// decodes records itself calls Admit before proto.Unmarshal.
func (b *Builder) Admit(wire []byte) error {
	rc, err := scanRecord(wire)
	if err != nil {
		return err
	}
	total := b.total
	total.add(rc)
	if err := b.lim.check(&total, b.read+int64(len(wire)), &rc, int64(len(wire))); err != nil {
		return err
	}
	b.admitted = int64(len(wire))
	return nil
}

// Add adds the next record.
func (b *Builder) Add(r *capturev1.Record) error {
	size := b.admitted
	b.admitted = 0
	if size == 0 {
		size = int64(proto.Size(r))
	}
	rc := recordCounts(r)
	b.total.add(rc)
	b.read += size
	if err := b.lim.check(&b.total, b.read, nil, 0); err != nil {
		return err
	}
	if b.done {
		return fmt.Errorf("%w: record after the footer", ErrMalformed)
	}
	if b.c == nil && r.GetHeader() == nil {
		return fmt.Errorf("%w: first record is not a header", ErrMalformed)
	}
	b.seen++
	switch k := r.GetKind().(type) {
	case *capturev1.Record_Header:
		if b.c != nil {
			return fmt.Errorf("%w: second header", ErrMalformed)
		}
		h := k.Header
		if h.GetFormatVersion() != FormatVersion {
			return fmt.Errorf("%w: format version %d, want %d (upgrade fleetprof)", ErrMalformed, h.GetFormatVersion(), FormatVersion)
		}
		c := &capture.Capture{
			BaseNS:      h.GetBaseTimeNs(),
			Span:        capture.Interval{Start: h.GetSpanStartPs(), End: h.GetSpanEndPs()},
			SpanFrom:    h.GetSpanFrom(),
			Session:     capture.Interval{Start: h.GetSessionStartPs(), End: h.GetSessionEndPs()},
			Gap:         h.GetGapPs(),
			Pad:         h.GetPadPs(),
			EventsTotal: h.GetEventsTotal(),
			Source:      capture.Source{Format: h.GetSourceFormat(), Name: h.GetSourceName()},
			Warnings:    slices.Clone(h.GetWarnings()),
			Context:     maps.Clone(h.GetContext()),
		}
		for _, w := range h.GetWindows() {
			c.Windows = append(c.Windows, capture.Interval{Start: w.GetStartPs(), End: w.GetEndPs()})
		}
		for _, r := range h.GetRequests() {
			if r.GetEndPs() < r.GetSendPs() || r.GetFirstBytePs() < r.GetSendPs() || r.GetFirstBytePs() > r.GetEndPs() {
				return fmt.Errorf("%w: request %q ends before it starts", ErrMalformed, r.GetId())
			}
			c.Requests = append(c.Requests, capture.Request{
				ID: r.GetId(), Endpoint: r.GetEndpoint(), Send: r.GetSendPs(), FirstByte: r.GetFirstBytePs(),
				End: r.GetEndPs(), Status: int(r.GetStatus()), Err: r.GetError(),
			})
		}
		b.c = c
	case *capturev1.Record_Plane:
		p := k.Plane
		if int(p.GetIndex()) != len(b.c.Planes) {
			return fmt.Errorf("%w: plane index %d, want %d", ErrMalformed, p.GetIndex(), len(b.c.Planes))
		}
		cp := &capture.Plane{
			ID: p.GetId(), Name: p.GetName(), Stats: fromStats(p.GetStats()),
			Busy: p.GetBusyPs(), OpEvents: p.GetOpEvents(), EventsTotal: p.GetEventsTotal(), OpTotal: p.GetOpTotalPs(),
		}
		for i, l := range p.GetLines() {
			if int(l.GetIndex()) != i {
				return fmt.Errorf("%w: plane %d line index %d, want %d", ErrMalformed, p.GetIndex(), l.GetIndex(), i)
			}
			cp.Lines = append(cp.Lines, &capture.Line{
				ID: l.GetId(), DisplayID: l.GetDisplayId(), Name: l.GetName(), DisplayName: l.GetDisplayName(),
			})
		}
		b.c.Planes = append(b.c.Planes, cp)
	case *capturev1.Record_Events:
		e := k.Events
		l, err := b.line(int(e.GetPlane()), int(e.GetLine()))
		if err != nil {
			return err
		}
		for _, ev := range e.GetEvents() {
			if ev.GetDurationPs() < 0 {
				return fmt.Errorf("%w: negative duration", ErrMalformed)
			}
			b.kept++
			if b.skip {
				continue
			}
			l.Events = append(l.Events, capture.Event{
				Name: ev.GetName(), DisplayName: ev.GetDisplayName(),
				Start: ev.GetStartPs(), Dur: ev.GetDurationPs(), Self: ev.GetSelfPs(),
				Stats: fromStats(ev.GetStats()),
			})
		}
	case *capturev1.Record_Dropped:
		for _, d := range k.Dropped.GetRows() {
			if _, err := b.line(int(d.GetPlane()), int(d.GetLine())); err != nil {
				return err
			}
			b.c.Dropped = append(b.c.Dropped, capture.Dropped{
				Plane: int(d.GetPlane()), Line: int(d.GetLine()), Name: d.GetName(),
				Count: d.GetCount(), Total: d.GetTotalPs(), Self: d.GetSelfPs(),
			})
		}
	case *capturev1.Record_Footer:
		f := k.Footer
		if f.GetEventsKept() != b.kept {
			return fmt.Errorf("%w: footer says %d kept events, stream had %d", ErrMalformed, f.GetEventsKept(), b.kept)
		}
		if f.GetRecords() != b.seen-1 {
			return fmt.Errorf("%w: footer says %d records, stream had %d", ErrMalformed, f.GetRecords(), b.seen-1)
		}
		b.done = true
	default:
		return fmt.Errorf("%w: empty or unknown record", ErrMalformed)
	}
	return nil
}

func (b *Builder) line(p, l int) (*capture.Line, error) {
	if p < 0 || p >= len(b.c.Planes) {
		return nil, fmt.Errorf("%w: plane index %d not declared", ErrMalformed, p)
	}
	pl := b.c.Planes[p]
	if l < 0 || l >= len(pl.Lines) {
		return nil, fmt.Errorf("%w: line index %d of plane %d not declared", ErrMalformed, l, p)
	}
	return pl.Lines[l], nil
}

// Capture returns the assembled capture once the footer has been added.
func (b *Builder) Capture() (*capture.Capture, error) {
	if !b.done {
		return nil, ErrTruncated
	}
	return b.c, nil
}
