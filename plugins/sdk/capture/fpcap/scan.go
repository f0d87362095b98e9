package fpcap

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// msgKind names the messages of capture.proto a wire scan descends into.
type msgKind uint8

const (
	kNone msgKind = iota
	kRecord
	kHeader
	kWindow
	kEntry // a context map entry
	kRequest
	kPlane
	kLine
	kBatch
	kEvent
	kStat
	kDroppedBatch
	kDropped
	kFooter
)

// fieldKind is what a length-delimited field holds: a message of some kind,
// a string (or bytes), or nothing the scan counts.
type fieldKind struct {
	msg msgKind
	str bool
}

// schema maps each message kind's length-delimited fields to what they hold,
// after capture.proto.
var schema = [...]map[protowire.Number]fieldKind{
	kRecord:  {1: {msg: kHeader}, 2: {msg: kPlane}, 3: {msg: kBatch}, 4: {msg: kDroppedBatch}, 5: {msg: kFooter}},
	kHeader:  {7: {msg: kWindow}, 9: {str: true}, 10: {str: true}, 11: {str: true}, 12: {msg: kEntry}, 13: {str: true}, 16: {msg: kRequest}},
	kWindow:  {},
	kEntry:   {1: {str: true}, 2: {str: true}},
	kRequest: {1: {str: true}, 2: {str: true}, 7: {str: true}},
	kPlane:   {3: {str: true}, 4: {msg: kStat}, 5: {msg: kLine}},
	kLine:    {4: {str: true}, 5: {str: true}},
	kBatch:   {3: {msg: kEvent}},
	kEvent:   {1: {str: true}, 2: {str: true}, 6: {msg: kStat}},
	kStat:    {1: {str: true}, 5: {str: true}, 6: {str: true}},

	kDroppedBatch: {1: {msg: kDropped}},
	kDropped:      {3: {str: true}},
	kFooter:       {},
}

// scanRecord counts what decoding one record's wire form would add to a
// capture and allocate, without decoding it.
func scanRecord(b []byte) (counts, error) {
	var c counts
	c.proto = protoRecord
	if err := scanMsg(b, kRecord, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// scanMsg scans the fields of one message of kind k.
func scanMsg(b []byte, k msgKind, c *counts) error {
	fields := schema[k]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		f, known := fields[num]
		switch {
		case !known:
			c.proto += int64(len(v)) + 8 // kept as unknown bytes
		case f.str:
			c.str(len(v))
			c.proto += int64(len(v))
			switch k {
			case kHeader:
				if num == 11 {
					c.warnings++
					c.proto += sizeofString
				}
			case kEntry:
				c.contextBytes += int64(len(v))
			}
		default:
			countMsg(f.msg, c)
			if err := scanMsg(v, f.msg, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// countMsg counts one message of kind k.
func countMsg(k msgKind, c *counts) {
	switch k {
	case kHeader:
		c.proto += protoHeader
	case kWindow:
		c.windows++
		c.proto += protoWindow
	case kEntry:
		c.context++
		c.proto += sizeofEntry
	case kRequest:
		c.requests++
		c.proto += protoRequest
	case kPlane:
		c.planes++
		c.proto += protoPlane
	case kLine:
		c.lines++
		c.proto += protoLine
	case kBatch:
		c.proto += protoBatch
	case kEvent:
		c.events++
		c.proto += protoEvent
	case kStat:
		c.stats++
		c.proto += protoStat
	case kDropped:
		c.dropped++
		c.proto += protoDropped
	case kDroppedBatch, kFooter:
		c.proto += 64
	}
}

// recordCounts counts what a decoded record adds to a capture, as scanRecord
// does from its wire form (but for what protobuf allocated).
func recordCounts(r *capturev1.Record) counts {
	var c counts
	stats := func(ss []*capturev1.Stat) {
		c.stats += int64(len(ss))
		for _, s := range ss {
			c.str(len(s.GetName()))
			switch v := s.GetValue().(type) {
			case *capturev1.Stat_StrValue:
				c.str(len(v.StrValue))
			case *capturev1.Stat_BytesValue:
				c.str(len(v.BytesValue))
			}
		}
	}
	switch k := r.GetKind().(type) {
	case *capturev1.Record_Header:
		h := k.Header
		c.windows += int64(len(h.GetWindows()))
		c.str(len(h.GetSourceFormat()))
		c.str(len(h.GetSourceName()))
		c.str(len(h.GetSpanFrom()))
		c.warnings += int64(len(h.GetWarnings()))
		for _, w := range h.GetWarnings() {
			c.str(len(w))
		}
		c.context += int64(len(h.GetContext()))
		for key, v := range h.GetContext() {
			c.str(len(key))
			c.str(len(v))
			c.contextBytes += int64(len(key) + len(v))
		}
		c.requests += int64(len(h.GetRequests()))
		for _, r := range h.GetRequests() {
			c.str(len(r.GetId()))
			c.str(len(r.GetEndpoint()))
			c.str(len(r.GetError()))
		}
	case *capturev1.Record_Plane:
		p := k.Plane
		c.planes++
		c.str(len(p.GetName()))
		stats(p.GetStats())
		c.lines += int64(len(p.GetLines()))
		for _, l := range p.GetLines() {
			c.str(len(l.GetName()))
			c.str(len(l.GetDisplayName()))
		}
	case *capturev1.Record_Events:
		evs := k.Events.GetEvents()
		c.events += int64(len(evs))
		for _, e := range evs {
			c.str(len(e.GetName()))
			c.str(len(e.GetDisplayName()))
			stats(e.GetStats())
		}
	case *capturev1.Record_Dropped:
		rows := k.Dropped.GetRows()
		c.dropped += int64(len(rows))
		for _, d := range rows {
			c.str(len(d.GetName()))
		}
	}
	return c
}
