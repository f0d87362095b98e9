package xplane

import (
	"context"
	"math"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// ctxEvery is how many events Walk visits between looks at its context.
const ctxEvery = 4096

// Walk reads every plane, line and event of the file in file order and tells
// v: Base once (BaseNS), then each plane, each of its lines, and each
// timeline event with its name (from the plane's event metadata), start
// (relative to the base, in picoseconds), duration and Ref. Aggregated events
// (num_occurrences) are skipped and counted (Aggregated). When v is a
// capture.SessionVisitor and the file records its profiling session
// (SessionNS) within reach of the base, v.Session follows Base. A line's DisplayID
// is its display_id, or its id when display_id is 0, as TSL shows it. Walk
// stops at the first error, including one returned by v.Event or by ctx.
// It allocates per plane and line, never per event.
func (f *File) Walk(ctx context.Context, v capture.Visitor) error {
	s := &scanner{r: f.r, size: f.size}
	if b := f.spare.Swap(nil); b != nil && len(*b) == f.bufSize {
		s.buf = *b
	} else {
		s.buf = make([]byte, f.bufSize)
	}
	w := &walker{f: f, s: s, v: v}
	v.Base(f.base)
	if sv, ok := v.(capture.SessionVisitor); ok {
		if start, end, ok := f.session(); ok {
			sv.Session(start, end)
		}
	}
	for _, p := range f.planes {
		if err := w.plane(ctx, p); err != nil {
			return err
		}
	}
	f.aggregated.Store(w.aggregated)
	return nil
}

// walker is the state of one Walk.
type walker struct {
	f          *File
	s          *scanner
	v          capture.Visitor
	ev         capture.RawEvent
	count      int
	aggregated int64
}

func (w *walker) plane(ctx context.Context, p *plane) error {
	s := w.s
	pi := w.v.Plane(capture.PlaneInfo{ID: p.id, Name: p.name, Stats: cloneStats(p.stats)})
	s.seek(p.off)
	for s.off() < p.end {
		num, typ, err := s.tag(p.end)
		if err != nil {
			return err
		}
		if num != 3 || typ != wireBytes {
			if err := s.skipValue(typ, p.end); err != nil {
				return err
			}
			continue
		}
		n, err := s.length(p.end)
		if err != nil {
			return err
		}
		lo := s.off()
		if err := w.line(ctx, p, pi, lo, lo+n); err != nil {
			return err
		}
		s.seek(lo + n)
	}
	return nil
}

// line walks the line in [lo, hi): a first pass reads its header, whose
// fields sit on both sides of the events, a second its events.
func (w *walker) line(ctx context.Context, p *plane, pi int, lo, hi int64) error {
	s := w.s
	s.seek(lo)
	var (
		info        capture.LineInfo
		ts          int64
		first, last int64 = -1, -1
		displayID   int64
	)
	for s.off() < hi {
		off := s.off()
		num, typ, err := s.tag(hi)
		if err != nil {
			return err
		}
		switch num {
		case 1, 3, 9, 10: // id, timestamp_ns, duration_ps, display_id
			if err := wantType(off, "XLine", num, typ, wireVarint); err != nil {
				return err
			}
			v, err := s.uvarint(hi)
			if err != nil {
				return err
			}
			switch num {
			case 1:
				info.ID = int64(v)
			case 3:
				ts = int64(v)
			case 10:
				displayID = int64(v)
			}
		case 2, 11: // name, display_name
			if err := wantType(off, "XLine", num, typ, wireBytes); err != nil {
				return err
			}
			str, err := s.str(hi)
			if err != nil {
				return err
			}
			if num == 2 {
				info.Name = str
			} else {
				info.DisplayName = str
			}
		case 4: // events
			if err := wantType(off, "XLine", num, typ, wireBytes); err != nil {
				return err
			}
			n, err := s.length(hi)
			if err != nil {
				return err
			}
			if err := s.skip(n, hi); err != nil {
				return err
			}
			if first < 0 {
				first = off
			}
			last = s.off()
		default:
			if err := s.skipValue(typ, hi); err != nil {
				return err
			}
		}
	}
	info.DisplayID = displayID
	if info.DisplayID == 0 {
		info.DisplayID = info.ID
	}
	li := w.v.Line(pi, info)
	if first < 0 {
		return nil
	}
	return w.events(ctx, p, pi, li, ts, first, last)
}

// events walks the events of a line, from the first event's tag at first
// to the end of the last at last. Only event fields are left to meet there,
// and other fields between them are skipped.
func (w *walker) events(ctx context.Context, p *plane, pi, li int, ts, first, last int64) error {
	s := w.s
	// The line's start relative to the base, in picoseconds; ok is false
	// when it overflows (an error only if the line has a timeline event).
	lineNS, ok := sub(ts, w.f.base)
	if ok && (lineNS > math.MaxInt64/1000 || lineNS < math.MinInt64/1000) {
		ok = false
	}
	linePS := lineNS * 1000
	ev := &w.ev
	ev.Plane, ev.Line = pi, li
	s.seek(first)
	for s.off() < last {
		// The common case: the tag of an event field, one byte.
		if s.pos < len(s.data) && s.data[s.pos] == byte(tagLineEvent) {
			s.pos++
		} else {
			num, typ, err := s.tag(last)
			if err != nil {
				return err
			}
			if num != 4 || typ != wireBytes {
				if err := s.skipValue(typ, last); err != nil {
					return err
				}
				continue
			}
		}
		var n int64
		if i := s.pos; i < len(s.data) && s.data[i] < 0x80 && s.start+int64(i)+1+int64(s.data[i]) <= last {
			n, s.pos = int64(s.data[i]), i+1
		} else {
			var err error
			if n, err = s.length(last); err != nil {
				return err
			}
		}
		off := s.off()
		var (
			e   rawEvent
			err error
		)
		if n <= int64(len(s.buf)) { // decode straight from the buffer
			if len(s.data)-s.pos < int(n) {
				if err := s.fill(int(n)); err != nil {
					return err
				}
				if len(s.data)-s.pos < int(n) {
					return malformed(off, "file ends inside an event (truncated)")
				}
			}
			e, err = decodeEvent(s.data[s.pos:s.pos+int(n)], off)
			s.pos += int(n)
		} else {
			e, err = readEvent(s, off+n, nil)
		}
		if err != nil {
			return err
		}
		if e.agg {
			w.aggregated++
			continue
		}
		if e.dur < 0 {
			return malformed(off, "event duration_ps is negative (%d)", e.dur)
		}
		if !ok {
			return malformed(off, "event time overflows: line timestamp_ns %d is too far from the base %d", ts, w.f.base)
		}
		start, ok1 := add(linePS, e.offset)
		_, ok2 := add(start, e.dur)
		if !ok1 || !ok2 {
			return malformed(off, "event time overflows: offset_ps %d, duration_ps %d on a line %d ps from the base", e.offset, e.dur, linePS)
		}
		if m := p.lookup(e.meta); m != nil {
			ev.Name = m.nameB
		} else {
			ev.Name = nil
		}
		ev.Start, ev.Dur = start, e.dur
		ev.Ref = capture.Ref{Off: off, Len: n}
		if err := w.v.Event(ev); err != nil {
			return err
		}
		if w.count++; w.count%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sub returns a-b and whether it did not overflow.
func sub(a, b int64) (int64, bool) {
	d := a - b
	return d, (a >= b) == (d >= 0)
}

// add returns a+b and whether it did not overflow.
func add(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}
