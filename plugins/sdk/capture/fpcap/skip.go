package fpcap

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// addEventsWire adds an event batch record from its wire form, without
// decoding it, for a Builder that keeps no events (SkipEvents): it checks
// what proto.Unmarshal and Add would (the framing, valid UTF-8 in strings,
// declared lines, no negative duration) and counts the events and their
// strings. It takes only the records fpcap writes, each field at most once
// (stats and events repeated) with its declared wire type; for any other
// record, and for every record that would fail, it reports false having
// changed nothing, and the caller decodes the record and Adds it, which
// finds the same outcome and names the error.
func (b *Builder) addEventsWire(wire []byte) bool {
	if !b.skip || b.c == nil || b.done {
		return false
	}
	num, typ, n := protowire.ConsumeTag(wire)
	if n < 0 || num != 3 || typ != protowire.BytesType {
		return false
	}
	batch, m := protowire.ConsumeBytes(wire[n:])
	if m < 0 || n+m != len(wire) {
		return false
	}
	var rc counts
	var plane, line uint64
	var seen uint8
	events := int64(0)
	for len(batch) > 0 {
		num, typ, n := protowire.ConsumeTag(batch)
		if n < 0 || num < 1 || num > 3 {
			return false
		}
		batch = batch[n:]
		switch {
		case num == 3 && typ == protowire.BytesType:
			ev, n := protowire.ConsumeBytes(batch)
			if n < 0 || !eventWire(ev, &rc) {
				return false
			}
			batch = batch[n:]
			events++
		case typ == protowire.VarintType && seen&(1<<num) == 0:
			v, n := protowire.ConsumeVarint(batch)
			if n < 0 {
				return false
			}
			batch = batch[n:]
			seen |= 1 << num
			if num == 1 {
				plane = v
			} else {
				line = v
			}
		default:
			return false
		}
	}
	if _, err := b.line(int(int32(plane)), int(int32(line))); err != nil {
		return false
	}
	rc.events = events
	total := b.total
	total.add(rc)
	size := b.admitted
	if size == 0 {
		size = int64(len(wire))
	}
	if b.lim.check(&total, b.read+size, nil, 0) != nil {
		return false // Add names the bound
	}
	b.admitted = 0
	b.total = total
	b.read += size
	b.seen++
	b.kept += events
	return true
}

// eventWire checks one Event's wire form as addEventsWire does, adding its
// strings and stats to rc; false means "decode it instead".
func eventWire(b []byte, rc *counts) bool {
	var seen uint8
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 6 {
			return false
		}
		b = b[n:]
		if num != 6 {
			if seen&(1<<num) != 0 {
				return false
			}
			seen |= 1 << num
		}
		switch num {
		case 1, 2: // name, display_name
			if typ != protowire.BytesType {
				return false
			}
			s, n := protowire.ConsumeBytes(b)
			if n < 0 || !utf8.Valid(s) {
				return false
			}
			rc.str(len(s))
			b = b[n:]
		case 3, 4, 5: // start_ps, duration_ps, self_ps
			if typ != protowire.VarintType {
				return false
			}
			v, n := protowire.ConsumeVarint(b)
			if n < 0 || (num == 4 && int64(v) < 0) {
				return false
			}
			b = b[n:]
		case 6: // stats
			if typ != protowire.BytesType {
				return false
			}
			s, n := protowire.ConsumeBytes(b)
			if n < 0 || !statWire(s, rc) {
				return false
			}
			rc.stats++
			b = b[n:]
		}
	}
	return true
}

// statWire checks one Stat's wire form: a name and at most one value.
func statWire(b []byte, rc *counts) bool {
	var name, value bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 1 {
			if name {
				return false
			}
			name = true
		} else {
			if value {
				return false
			}
			value = true
		}
		var want protowire.Type
		switch num {
		case 1, 5, 6: // name, str_value, bytes_value
			want = protowire.BytesType
		case 2: // double_value
			want = protowire.Fixed64Type
		case 3, 4: // uint64_value, int64_value
			want = protowire.VarintType
		default:
			return false
		}
		if typ != want {
			return false
		}
		if typ == protowire.BytesType {
			s, n := protowire.ConsumeBytes(b)
			if n < 0 || (num != 6 && !utf8.Valid(s)) {
				return false
			}
			rc.str(len(s))
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
