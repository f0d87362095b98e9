package gen

import (
	"bufio"
	"fmt"
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// WriteXSpace writes the capture as an XSpace (.xplane.pb): the devices'
// planes, then the host's, each with its lines (events in time order) and
// then its metadata, as the profiler serialises them. Op metadata carry
// hlo_category (interned, as a ref_value), tf_op, flops and bytes_accessed;
// events carry run_id or batch_size. A line's timestamp_ns is its first
// event's start, floored to the nanosecond, and each offset_ps is relative
// to it.
//
// It streams: the events are walked three times (extent of each line, size
// of each line, then the bytes), so memory stays small whatever the size.
func (c *Capture) WriteXSpace(w io.Writer) error {
	order := c.planeOrder(DevicesFirst)
	lines := make([][]lineSize, len(c.planes))
	for p := range c.planes {
		lines[p] = make([]lineSize, len(c.planes[p].lines))
		for l := range lines[p] {
			lines[p][l].first, lines[p][l].last = math.MaxInt64, math.MinInt64
		}
	}
	// Pass 1: where each line starts and ends.
	_ = c.walk(order, func(e *event) error {
		ls := &lines[e.plane][e.line]
		ls.first = min(ls.first, e.start)
		ls.last = max(ls.last, e.start+e.dur)
		return nil
	})
	for p := range lines {
		for l := range lines[p] {
			ls := &lines[p][l]
			if ls.first == math.MaxInt64 {
				ls.first, ls.last = 0, 0
			}
			ls.origin = floorDiv(ls.first, nsec) * nsec
		}
	}
	// Pass 2: the size of each line's events.
	var scratch []byte
	_ = c.walk(order, func(e *event) error {
		ls := &lines[e.plane][e.line]
		scratch = appendXEvent(scratch[:0], e, ls.origin)
		ls.events += int64(protowire.SizeTag(4) + protowire.SizeBytes(len(scratch)))
		return nil
	})
	// Pass 3: the bytes.
	bw := bufio.NewWriterSize(w, 1<<20)
	xw := &xspaceWriter{c: c, bw: bw, lines: lines}
	for _, p := range order {
		if err := xw.plane(p); err != nil {
			return fmt.Errorf("gen: write xspace: %w", err)
		}
	}
	b := protowire.AppendTag(nil, 4, protowire.BytesType)
	b = protowire.AppendString(b, c.cfg.Hostname)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("gen: write xspace: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gen: write xspace: %w", err)
	}
	return nil
}

// lineSize is what the first two passes learn about a line.
type lineSize struct {
	first, last int64 // earliest start, latest end
	origin      int64 // timestamp_ns as ps from the capture's start
	events      int64 // bytes of its events field
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

type xspaceWriter struct {
	c     *Capture
	bw    *bufio.Writer
	lines [][]lineSize
	b     []byte
}

// lineHead is an XLine's fields before its events: id, name, timestamp_ns.
func (xw *xspaceWriter) lineHead(b []byte, p, l int) []byte {
	ln := &xw.c.planes[p].lines[l]
	b = appendVarintField(b, 1, uint64(ln.id))
	b = appendStringField(b, 2, ln.name)
	ts := xw.c.cfg.StartNS + xw.lines[p][l].origin/nsec
	return appendVarintField(b, 3, uint64(ts))
}

// lineTail is an XLine's fields after its events: duration_ps, display_id.
func (xw *xspaceWriter) lineTail(b []byte, p, l int) []byte {
	ls := &xw.lines[p][l]
	b = appendVarintField(b, 9, uint64(ls.last-ls.origin))
	return appendVarintField(b, 10, uint64(xw.c.planes[p].lines[l].id))
}

// planeMeta is an XPlane's fields after its lines: event and stat metadata.
func (xw *xspaceWriter) planeMeta(b []byte, p int) []byte {
	pl := &xw.c.planes[p]
	for i, m := range pl.metas {
		id := uint64(i + 1)
		var v []byte
		v = appendVarintField(v, 1, id)
		v = appendStringField(v, 2, m.name)
		if m.display != "" {
			v = appendStringField(v, 4, m.display)
		}
		for _, s := range m.stats {
			v = protowire.AppendTag(v, 5, protowire.BytesType)
			v = protowire.AppendBytes(v, appendXStat(nil, s))
		}
		var entry []byte
		entry = appendVarintField(entry, 1, id)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, v)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	for i, name := range pl.stats {
		id := uint64(i + 1)
		var v []byte
		v = appendVarintField(v, 1, id)
		v = appendStringField(v, 2, name)
		var entry []byte
		entry = appendVarintField(entry, 1, id)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, v)
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	return b
}

// plane writes one XPlane as an XSpace planes field.
func (xw *xspaceWriter) plane(p int) error {
	pl := &xw.c.planes[p]
	var head []byte
	if pl.id != 0 {
		head = appendVarintField(head, 1, uint64(pl.id))
	}
	head = appendStringField(head, 2, pl.name)
	size := int64(len(head))
	lineLen := make([]int64, len(pl.lines))
	for l := range pl.lines {
		n := int64(len(xw.lineHead(nil, p, l))) + xw.lines[p][l].events + int64(len(xw.lineTail(nil, p, l)))
		lineLen[l] = n
		size += int64(protowire.SizeTag(3)+protowire.SizeVarint(uint64(n))) + n
	}
	meta := xw.planeMeta(nil, p)
	size += int64(len(meta))

	b := protowire.AppendTag(xw.b[:0], 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b = append(b, head...)
	cur := -1
	open := func(l int) {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(lineLen[l]))
		b = xw.lineHead(b, p, l)
	}
	// Lines open and close as the walk reaches them; lines without events
	// are written whole.
	advance := func(to int) {
		for cur < to {
			if cur >= 0 {
				b = xw.lineTail(b, p, cur)
			}
			cur++
			if cur < len(pl.lines) {
				open(cur)
			}
		}
	}
	var ev []byte
	err := xw.c.walkPlane(p, func(e *event) error {
		advance(e.line)
		ev = appendXEvent(ev[:0], e, xw.lines[p][e.line].origin)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, ev)
		if len(b) >= 1<<16 {
			if _, err := xw.bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	advance(len(pl.lines))
	b = append(b, meta...)
	xw.b = b[:0]
	_, err = xw.bw.Write(b)
	return err
}

// appendXEvent appends an XEvent's fields: metadata_id, offset_ps (always,
// as the profiler sets it), duration_ps and the event's own stat.
func appendXEvent(b []byte, e *event, origin int64) []byte {
	b = appendVarintField(b, 1, uint64(e.meta+1))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(e.start-origin))
	b = appendVarintField(b, 3, uint64(e.dur))
	if e.stat >= 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, appendXStat(nil, stat{key: e.stat, kind: kindInt, i: e.val}))
	}
	return b
}

// appendXStat appends an XStat's fields.
func appendXStat(b []byte, s stat) []byte {
	b = appendVarintField(b, 1, uint64(s.key+1))
	switch s.kind {
	case kindRef:
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.ref+1))
	case kindInt:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.i))
	case kindUint:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, s.u)
	default:
		b = appendStringField(b, 5, s.str)
	}
	return b
}

// appendVarintField appends a varint field unless it is zero (proto3).
func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendStringField appends a string field unless it is empty (proto3).
func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}
