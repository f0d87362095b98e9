package xplane

import "google.golang.org/protobuf/encoding/protowire"

// rawEvent is the timing part of an XEvent.
type rawEvent struct {
	meta   int64
	offset int64
	dur    int64
	// agg is set when the event carries num_occurrences (the last of the
	// oneof's fields wins): an aggregated count, not a timeline event.
	agg bool
}

// Whole XEvent tags.
const (
	tagEventMeta   = 1<<3 | uint64(wireVarint)
	tagEventOffset = 2<<3 | uint64(wireVarint)
	tagEventDur    = 3<<3 | uint64(wireVarint)
	tagEventStats  = 4<<3 | uint64(wireBytes)
	tagEventOccur  = 5<<3 | uint64(wireVarint)
	tagLineEvent   = 4<<3 | uint64(wireBytes)
)

// decodeEvent decodes the XEvent in b, found at file offset off, skipping
// its stats. It is Walk's fast path; readEvent is the same for events that
// do not fit the buffer.
func decodeEvent(b []byte, off int64) (rawEvent, error) {
	var e rawEvent
	i := 0
	for i < len(b) {
		at := i
		// Tags and most values are one byte: decode those inline.
		t := uint64(b[i])
		if t < 0x80 {
			i++
		} else {
			v, n, err := varintAtSlow(b[i:], off+int64(i))
			if err != nil {
				return e, err
			}
			t, i = v, i+n
		}
		switch t {
		case tagEventMeta, tagEventOffset, tagEventDur, tagEventOccur:
			v, j := uvarintIn(b, i)
			if j < 0 {
				_, _, err := varintAtSlow(b[i:], off+int64(i))
				return e, err
			}
			i = j
			e.set(t, v)
		default:
			num, typ := t>>3, byte(t&7)
			if err := checkEventTag(num, typ, off+int64(at)); err != nil {
				return e, err
			}
			n, err := skipAt(b[i:], typ, off+int64(i))
			if err != nil {
				return e, err
			}
			i += n
		}
	}
	return e, nil
}

// set stores the varint field of whole tag t (one of tagEventMeta,
// tagEventOffset, tagEventDur, tagEventOccur): an offset makes the event a
// timeline event, num_occurrences an aggregated one, the later field winning
// as protobuf's last-one-wins does.
func (e *rawEvent) set(t, v uint64) {
	switch t {
	case tagEventMeta:
		e.meta = int64(v)
	case tagEventOffset:
		e.offset, e.agg = int64(v), false
	case tagEventDur:
		e.dur = int64(v)
	default:
		e.agg = true
	}
}

// checkEventTag rejects a bad field number, or a known XEvent field with the
// wrong wire type (the tag did not match the expected whole tag).
func checkEventTag(num uint64, typ byte, off int64) error {
	switch {
	case num == 0 || num > uint64(protowire.MaxValidNumber):
		return malformed(off, "bad field number %d", num)
	case num == 1 || num == 2 || num == 3 || num == 5:
		return wantType(off, "XEvent", protowire.Number(num), typ, wireVarint)
	case num == 4:
		return wantType(off, "XEvent", protowire.Number(num), typ, wireBytes)
	}
	return nil
}

// readEvent reads the XEvent that ends at end from the scanner; with stats
// non-nil it appends the event's stats to it, else skips them.
func readEvent(s *scanner, end int64, stats *[]rawStat) (rawEvent, error) {
	var e rawEvent
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return e, err
		}
		t := uint64(num)<<3 | uint64(typ)
		switch t {
		case tagEventMeta, tagEventOffset, tagEventDur, tagEventOccur:
			v, err := s.uvarint(end)
			if err != nil {
				return e, err
			}
			e.set(t, v)
		case tagEventStats:
			n, err := s.length(end)
			if err != nil {
				return e, err
			}
			if stats == nil {
				if err := s.skip(n, end); err != nil {
					return e, err
				}
				continue
			}
			st, err := readStat(s, s.off()+n)
			if err != nil {
				return e, err
			}
			*stats = append(*stats, st)
		default:
			if err := checkEventTag(uint64(num), typ, off); err != nil {
				return e, err
			}
			if err := s.skipValue(typ, end); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

// uvarintIn decodes the varint at b[i:] and returns it and the index past
// it, or j < 0 when it is truncated or too long (varintAtSlow says which).
func uvarintIn(b []byte, i int) (v uint64, j int) {
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(b) {
			return 0, -1
		}
		c := b[i]
		i++
		if shift == 63 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
	}
	return 0, -1
}
