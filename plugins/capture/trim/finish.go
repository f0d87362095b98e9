package trim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Finish is the second pass: it builds the windows, replays the records,
// loads the kept events through ld and returns the trimmed capture.
func (x *Indexer) Finish(ctx context.Context, ld capture.Loader) (*Result, error) {
	if x.err != nil {
		return nil, x.err
	}
	for _, ls := range x.lines {
		x.drain(ls)
	}
	if x.err != nil {
		return nil, x.err
	}
	x.flush()
	if x.err != nil {
		return nil, x.err
	}
	if x.events == 0 {
		return nil, ErrEmpty
	}
	if x.renamed {
		if err := x.reclassify(); err != nil {
			return nil, err
		}
	}
	span, from, session := x.span()
	c := &capture.Capture{
		BaseNS:      x.baseNS,
		Span:        span,
		SpanFrom:    from,
		Session:     session,
		Gap:         x.opts.gap(),
		Pad:         x.opts.pad(),
		EventsTotal: x.events,
	}
	if w := warnCap(x.events); w != "" {
		c.Warnings = append(c.Warnings, w)
	}
	var busy []capture.Interval
	devices := 0
	for _, p := range x.planes {
		cp := &capture.Plane{ID: p.info.ID, Name: p.info.Name, Stats: p.info.Stats, EventsTotal: p.events}
		if p.device {
			devices++
			u := capture.Union(p.opIv)
			p.opIv = nil
			cp.Busy = capture.TotalLen(u)
			cp.OpEvents = p.ops
			cp.OpTotal = p.opTotal
			busy = append(busy, u...)
		}
		for _, key := range p.lines {
			l := x.lines[key].info
			cp.Lines = append(cp.Lines, &capture.Line{ID: l.ID, DisplayID: l.DisplayID, Name: l.Name, DisplayName: l.DisplayName})
		}
		c.Planes = append(c.Planes, cp)
	}
	if !x.opts.AllowNoDevice {
		switch {
		case devices == 0:
			return nil, ErrNoDevicePlane
		case len(busy) == 0:
			return nil, ErrNoDeviceOps
		}
	}
	c.Windows = capture.Windows(busy, c.Gap, c.Pad, span)

	// Every record's count, total and self time was summed by name as it
	// was written: the kept events are taken back out, and only the chunks
	// of records that may meet a window are read. The lines that came out
	// of order are summed again here, from their records sorted and
	// replayed.
	rp := &replay{x: x, c: c, ld: ld, ctx: ctx, dropped: x.totals, stacks: make([][]frame, len(x.lines))}
	// Every device op is kept (it lies in its own window): the kept list
	// is sized for them once rather than grown by doubling.
	var ops int64
	for _, p := range x.planes {
		ops += p.ops
	}
	rp.kept = make([]keptRec, 0, ops+ops/8+64)
	x.totals = nil
	unsorted := make(map[int][]record)
	for key, ls := range x.lines {
		if !ls.sorted {
			unsorted[key] = nil
		}
	}
	if len(unsorted) > 0 {
		for id, nk := range x.names {
			if _, ok := unsorted[nk.line]; ok {
				rp.dropped[id] = capture.Dropped{}
			}
		}
	}
	var n int64
	visit := func(r *record) error {
		n++
		if r.line < 0 || r.line >= len(x.lines) || int(r.name) >= len(x.names) {
			return fmt.Errorf("%w: record %d", ErrBadRecord, n)
		}
		if !x.lines[r.line].sorted {
			unsorted[r.line] = append(unsorted[r.line], *r)
			return nil
		}
		rp.take(r)
		return nil
	}
	in, err := x.spill.Rewind()
	if err != nil {
		return nil, fmt.Errorf("trim: rewind spill: %w", err)
	}
	rr := newRecordReader(in)
	var rec record
	for ci := range x.chunks {
		ch := &x.chunks[ci]
		if !ch.must && !capture.Hits(c.Windows, capture.Interval{Start: ch.minStart, End: ch.maxEnd}) {
			n += int64(ch.records)
			if err := rr.skip(ch.bytes); err != nil {
				return nil, err
			}
			continue
		}
		if err := rr.chunk(ch, visit, &rec); err != nil {
			return nil, err
		}
	}
	for i := range x.long {
		if err := visit(&x.long[i]); err != nil {
			return nil, err
		}
	}
	if n != x.events {
		return nil, fmt.Errorf("%w: %d records for %d events", ErrBadRecord, n, x.events)
	}
	keys := make([]int, 0, len(unsorted))
	for k := range unsorted {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		recs := unsorted[key]
		// In (start, longest first) order; ties in the source's order.
		slices.SortFunc(recs, func(a, b record) int {
			if c := cmp.Compare(a.start, b.start); c != 0 {
				return c
			}
			if c := cmp.Compare(b.dur, a.dur); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		for i := range recs {
			rp.push(&recs[i])
		}
		rp.drain(key)
		delete(unsorted, key)
	}
	if err := rp.load(); err != nil {
		return nil, err
	}
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			slices.SortStableFunc(l.Events, func(a, b capture.Event) int {
				if c := cmp.Compare(a.Start, b.Start); c != 0 {
					return c
				}
				return cmp.Compare(b.Dur, a.Dur)
			})
		}
	}
	for id, d := range rp.dropped {
		if d.Count == 0 {
			continue
		}
		nk := x.names[id]
		ls := x.lines[nk.line]
		d.Plane, d.Line, d.Name = ls.plane, ls.index, nk.name
		c.Dropped = append(c.Dropped, d)
	}
	return &Result{Capture: c, UnsortedLines: len(keys), SpillBytes: x.nbytes}, nil
}

// frame is an event on a line's nesting stack.
type frame struct {
	rec      record
	children int64 // summed durations of direct children
}

type replay struct {
	x       *Indexer
	c       *capture.Capture
	ld      capture.Loader
	ctx     context.Context
	dropped []capture.Dropped // by name id
	stacks  [][]frame         // by global line key
	kept    []keptRec
}

// push adds the next event of an unsorted line, once sorted, in (start,
// longest first) order.
func (rp *replay) push(r *record) {
	st := rp.stacks[r.line]
	end := r.start + r.dur
	for len(st) > 0 {
		top := &st[len(st)-1]
		if end <= top.rec.start+top.rec.dur {
			break
		}
		rp.decide(&top.rec, top.rec.dur-top.children)
		st = st[:len(st)-1]
	}
	if len(st) > 0 {
		st[len(st)-1].children += r.dur
	}
	rp.stacks[r.line] = append(st, frame{rec: *r})
}

// drain decides every event still open on a line.
func (rp *replay) drain(line int) {
	st := rp.stacks[line]
	for i := len(st) - 1; i >= 0; i-- {
		rp.decide(&st[i].rec, st[i].rec.dur-st[i].children)
	}
	rp.stacks[line] = st[:0]
}

// take queues an event of a sorted line for loading if it is kept, and
// takes it out of the sums of its name.
func (rp *replay) take(r *record) {
	iv := capture.Interval{Start: r.start, End: r.start + r.dur}
	if !capture.Hits(rp.c.Windows, iv) {
		return
	}
	d := &rp.dropped[r.name]
	d.Count--
	d.Total -= r.dur
	d.Self -= r.self
	rp.kept = append(rp.kept, keptRec{rec: *r, self: r.self})
}

// decide decides an event of an unsorted line once its self time is
// known: a dropped one is summed, a kept one is queued for loading.
func (rp *replay) decide(r *record, self int64) {
	iv := capture.Interval{Start: r.start, End: r.start + r.dur}
	if !capture.Hits(rp.c.Windows, iv) {
		d := &rp.dropped[r.name]
		d.Count++
		d.Total += r.dur
		d.Self += self
		return
	}
	rp.kept = append(rp.kept, keptRec{rec: *r, self: self})
}

// keptRec is a kept event waiting to be loaded.
type keptRec struct {
	rec  record
	self int64
}

// span returns the capture's span by the rule in capture.Capture.Span: the
// session widened to hold every event when a session is known (from the
// source, else from Options.SessionNS) and overlaps the events; else the
// events' extent.
func (x *Indexer) span() (span capture.Interval, from string, session capture.Interval) {
	events := capture.Interval{Start: x.spanStart, End: x.spanEnd}
	session, ok := x.session, x.hasSession
	if !ok {
		if s := x.opts.SessionNS; s[1] > s[0] {
			// A session too far from the base for int64 picoseconds
			// (about 106 days: replayed or rebased files) cannot meet
			// the events: it is left out rather than wrapped around.
			const lim = math.MaxInt64 / capture.Nanosecond
			if a, b := s[0]-x.baseNS, s[1]-x.baseNS; (s[0] >= x.baseNS) == (a >= 0) && (s[1] >= x.baseNS) == (b >= 0) &&
				a > -lim && a < lim && b > -lim && b < lim {
				session = capture.Interval{Start: a * capture.Nanosecond, End: b * capture.Nanosecond}
				ok = true
			}
		}
	}
	if !ok {
		return events, capture.SpanFromEvents, capture.Interval{}
	}
	if session.End < events.Start || session.Start > events.End {
		// The session misses the events (a converter rebased their times).
		return events, capture.SpanFromEvents, session
	}
	return capture.Interval{Start: min(session.Start, events.Start), End: max(session.End, events.End)}, capture.SpanFromSession, session
}

// reclassify recomputes the device planes' op statistics from the
// records after renames changed which planes and lines hold ops.
func (x *Indexer) reclassify() error {
	for _, p := range x.planes {
		p.ops, p.opTotal, p.opIv, p.compact = 0, 0, nil, 0
	}
	var n int64
	err := x.eachRecord(func(rec *record) error {
		n++
		if rec.line < 0 || rec.line >= len(x.lines) {
			return fmt.Errorf("%w: record %d", ErrBadRecord, n)
		}
		ls := x.lines[rec.line]
		if !ls.op {
			return nil
		}
		p := x.planes[ls.plane]
		p.ops++
		p.opTotal += rec.dur
		p.opIv = append(p.opIv, capture.Interval{Start: rec.start, End: rec.start + rec.dur})
		if len(p.opIv) >= 1<<16 && len(p.opIv) >= 2*p.compact {
			p.opIv = capture.Union(p.opIv)
			p.compact = len(p.opIv)
		}
		return nil
	})
	if err == nil && n != x.events {
		err = fmt.Errorf("%w: %d records for %d events", ErrBadRecord, n, x.events)
	}
	return err
}
