package xplane

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Helpers that build XSpace bytes by hand, for files the generated types
// cannot express (wrong wire types, unknown fields, garbage).

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func fVarint(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func fInt(num protowire.Number, v int64) []byte { return fVarint(num, uint64(v)) }

func fBytes(num protowire.Number, parts ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, concat(parts...))
}

func fString(num protowire.Number, s string) []byte { return fBytes(num, []byte(s)) }

func fFixed64(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func fFixed32(num protowire.Number, v uint32) []byte {
	b := protowire.AppendTag(nil, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, v)
}

// Message builders, fields in number order like real writers.

func xEvent(meta, offset, dur int64, stats ...[]byte) []byte {
	b := concat(fInt(1, meta), fInt(2, offset), fInt(3, dur))
	for _, s := range stats {
		b = append(b, fBytes(4, s)...)
	}
	return b
}

func xAggEvent(meta, occurrences, dur int64) []byte {
	return concat(fInt(1, meta), fInt(3, dur), fInt(5, occurrences))
}

func xStatStr(meta int64, s string) []byte { return concat(fInt(1, meta), fString(5, s)) }

func xStatInt(meta int64, v int64) []byte { return concat(fInt(1, meta), fInt(4, v)) }

func xLine(id int64, name string, ts int64, events ...[]byte) []byte {
	b := concat(fInt(1, id), fString(2, name), fInt(3, ts))
	for _, e := range events {
		b = append(b, fBytes(4, e)...)
	}
	return append(b, fInt(10, id)...)
}

func xEventMeta(id int64, name string, stats ...[]byte) []byte {
	m := concat(fInt(1, id), fString(2, name))
	for _, s := range stats {
		m = append(m, fBytes(5, s)...)
	}
	return fBytes(4, fInt(1, id), fBytes(2, m))
}

func xStatMeta(id int64, name string) []byte {
	return fBytes(5, fInt(1, id), fBytes(2, fInt(1, id), fString(2, name)))
}

func xPlane(id int64, name string, lines [][]byte, meta ...[]byte) []byte {
	b := concat(fInt(1, id), fString(2, name))
	for _, l := range lines {
		b = append(b, fBytes(3, l)...)
	}
	return fBytes(1, append(b, concat(meta...)...))
}
