package xplane

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// maxInflated bounds a compressed_str_value once gunzipped.
const maxInflated = 64 << 20

// maxInflatedPlane bounds the gunzipped plane and metadata stats of a plane,
// which Open keeps.
const maxInflatedPlane = 1 << 30

// rawStat is an XStat before its names are resolved.
type rawStat struct {
	// off is the stat's offset in the file, for errors.
	off  int64
	meta int64
	// kind is the field number of the value (2 to 8), 0 if none was set.
	kind byte
	num  uint64
	b    []byte
}

// XStat value field numbers.
const (
	statDouble     = 2
	statUint       = 3
	statInt        = 4
	statStr        = 5
	statBytes      = 6
	statRef        = 7
	statCompressed = 8
)

// readStat reads an XStat.
func readStat(s *scanner, end int64) (rawStat, error) {
	st := rawStat{off: s.off()}
	for s.off() < end {
		off := s.off()
		num, typ, err := s.tag(end)
		if err != nil {
			return st, err
		}
		switch num {
		case 1, statUint, statInt, statRef:
			if err := wantType(off, "XStat", num, typ, wireVarint); err != nil {
				return st, err
			}
			v, err := s.uvarint(end)
			if err != nil {
				return st, err
			}
			if num == 1 {
				st.meta = int64(v)
			} else {
				st.kind, st.num, st.b = byte(num), v, nil
			}
		case statDouble:
			if err := wantType(off, "XStat", num, typ, wireFixed64); err != nil {
				return st, err
			}
			v, err := s.fixed64(end)
			if err != nil {
				return st, err
			}
			st.kind, st.num, st.b = statDouble, v, nil
		case statStr, statBytes, statCompressed:
			if err := wantType(off, "XStat", num, typ, wireBytes); err != nil {
				return st, err
			}
			n, err := s.length(end)
			if err != nil {
				return st, err
			}
			b, err := s.bytes(n, nil)
			if err != nil {
				return st, err
			}
			if b == nil {
				b = []byte{}
			}
			st.kind, st.num, st.b = byte(num), 0, b
		default:
			if err := s.skipValue(typ, end); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// resolveAll resolves raw stats, taking gunzipped strings from budget.
func (p *plane) resolveAll(raw []rawStat, budget *int64) ([]capture.Stat, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]capture.Stat, len(raw))
	for i, rs := range raw {
		st, err := p.resolve(rs)
		if err != nil {
			return nil, err
		}
		if rs.kind == statCompressed {
			if *budget -= int64(len(st.Str)); *budget < 0 {
				return nil, malformed(rs.off, "compressed stats of plane %q inflate past %d MiB", p.name, maxInflatedPlane>>20)
			}
		}
		out[i] = st
	}
	return out, nil
}

// resolve turns a raw stat into a named one: ref_value becomes the name it
// refers to and compressed_str_value is gunzipped, both as strings.
func (p *plane) resolve(rs rawStat) (capture.Stat, error) {
	st := capture.Stat{Name: p.statNames[rs.meta]}
	switch rs.kind {
	case statDouble:
		st.Kind, st.Double = capture.StatDouble, math.Float64frombits(rs.num)
	case statUint:
		st.Kind, st.Uint = capture.StatUint, rs.num
	case statInt:
		st.Kind, st.Int = capture.StatInt, int64(rs.num)
	case statStr:
		st.Kind, st.Str = capture.StatString, string(rs.b)
	case statBytes:
		st.Kind, st.Bytes = capture.StatBytes, bytes.Clone(rs.b)
	case statRef:
		st.Kind, st.Str = capture.StatString, p.statNames[int64(rs.num)]
	case statCompressed:
		str, err := gunzip(rs.b)
		if err != nil {
			return st, malformed(rs.off, "stat %q: compressed_str_value: %v", st.Name, err)
		}
		st.Kind, st.Str = capture.StatString, str
	default: // no value set
		st.Kind = capture.StatString
	}
	return st, nil
}

// gunzip inflates b, refusing more than maxInflated bytes.
func gunzip(b []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return "", err
	}
	if len(out) > maxInflated {
		return "", errors.New("inflates past 64 MiB")
	}
	return string(out), nil
}
