package requests

import (
	"cmp"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Share is what one request is given of a capture's time, in picoseconds.
type Share struct {
	// Device is the device busy time inside the request's span, each stretch
	// split evenly among the requests in flight during it.
	Device int64
	// Shared is the part of Device that was split with other requests.
	Shared int64
	// Host is the host's own work inside the span while no device was busy,
	// split the same way.
	Host int64
	// Windows counts the non-idle windows the span overlaps.
	Windows int
	// Ops is the device op time inside the span by key (a component), split
	// the same way; for ranking, so not rounded to whole picoseconds.
	Ops map[string]float64
}

// OpTime is one device op's interval and the key its time is summed under.
type OpTime struct {
	// Span is the op's interval.
	Span capture.Interval
	// Key is what it is summed under, e.g. its component.
	Key string
}

// Attribution is the split of a capture's time among its requests.
type Attribution struct {
	// Shares are the requests' shares, in the order of the spans given.
	Shares []Share
	// Busy is the device busy time (the union of every device op) overall.
	Busy int64
	// InSpans is the device busy time inside at least one request's span:
	// the Device shares sum to it exactly.
	InSpans int64
}

// segment is a stretch in which the same requests are in flight.
type segment struct {
	iv     capture.Interval
	active []int // indexes into the spans, ascending
}

// Attribute splits device busy time, host-only work and device op time
// among requests with the given spans. busy and host are disjoint sorted
// unions (capture.Union) of device op intervals and of the host's work;
// host time that overlaps busy time is not counted as host time. Within
// each stretch where the same k requests are in flight, each gets 1/k of
// what happened in it; whole picoseconds left over go one each to the
// requests sent first, so the Device shares sum to InSpans exactly.
func Attribute(spans []capture.Interval, busy, host, windows []capture.Interval, ops []OpTime) Attribution {
	a := Attribution{Shares: make([]Share, len(spans)), Busy: capture.TotalLen(busy)}
	for i := range a.Shares {
		a.Shares[i].Ops = map[string]float64{}
		a.Shares[i].Windows = overlapping(windows, spans[i])
	}
	segs := segments(spans)
	hostOnly := subtract(host, busy)
	bi, hi := 0, 0
	for _, sg := range segs {
		var b, h int64
		b, bi = lenIn(busy, bi, sg.iv)
		h, hi = lenIn(hostOnly, hi, sg.iv)
		a.InSpans += b
		split(a.Shares, sg.active, b, func(s *Share, v int64) {
			s.Device += v
			if len(sg.active) > 1 {
				s.Shared += v
			}
		})
		split(a.Shares, sg.active, h, func(s *Share, v int64) { s.Host += v })
	}
	for _, op := range ops {
		// The first segment that ends after the op starts.
		j, _ := slices.BinarySearchFunc(segs, op.Span.Start, func(sg segment, t int64) int { return cmp.Compare(sg.iv.End, t+1) })
		for ; j < len(segs) && segs[j].iv.Start < op.Span.End; j++ {
			sg := segs[j]
			o := min(op.Span.End, sg.iv.End) - max(op.Span.Start, sg.iv.Start)
			if o <= 0 {
				continue
			}
			part := float64(o) / float64(len(sg.active))
			for _, r := range sg.active {
				a.Shares[r].Ops[op.Key] += part
			}
		}
	}
	return a
}

// split gives each of the active requests total/k, and one more picosecond
// to each of the first total%k of them.
func split(shares []Share, active []int, total int64, add func(*Share, int64)) {
	k := int64(len(active))
	if k == 0 || total == 0 {
		return
	}
	each, rem := total/k, total%k
	for n, r := range active {
		v := each
		if int64(n) < rem {
			v++
		}
		add(&shares[r], v)
	}
}

// segments cuts the time the spans cover into stretches in which the same
// spans are in flight, in time order, leaving out stretches with none.
// Spans of zero length cover nothing.
func segments(spans []capture.Interval) []segment {
	type edge struct {
		t     int64
		start bool
		i     int
	}
	edges := make([]edge, 0, 2*len(spans))
	for i, s := range spans {
		if s.End > s.Start {
			edges = append(edges, edge{s.Start, true, i}, edge{s.End, false, i})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.t, b.t) })
	var out []segment
	var active []int
	for e := 0; e < len(edges); {
		t := edges[e].t
		for ; e < len(edges) && edges[e].t == t; e++ {
			if edges[e].start {
				i, _ := slices.BinarySearch(active, edges[e].i)
				active = slices.Insert(active, i, edges[e].i)
			} else if i, ok := slices.BinarySearch(active, edges[e].i); ok {
				active = slices.Delete(active, i, i+1)
			}
		}
		if len(active) > 0 && e < len(edges) {
			out = append(out, segment{iv: capture.Interval{Start: t, End: edges[e].t}, active: slices.Clone(active)})
		}
	}
	return out
}

// lenIn returns the length of the disjoint sorted intervals iv inside w,
// starting the search at index from, and the index to start the next
// search at for a later w.
func lenIn(iv []capture.Interval, from int, w capture.Interval) (int64, int) {
	for from < len(iv) && iv[from].End <= w.Start {
		from++
	}
	var n int64
	for i := from; i < len(iv) && iv[i].Start < w.End; i++ {
		n += min(iv[i].End, w.End) - max(iv[i].Start, w.Start)
	}
	return n, from
}

// subtract returns the parts of the disjoint sorted intervals a that lie
// outside the disjoint sorted intervals b.
func subtract(a, b []capture.Interval) []capture.Interval {
	var out []capture.Interval
	j := 0
	for _, x := range a {
		start := x.Start
		for j < len(b) && b[j].End <= start {
			j++
		}
		for k := j; k < len(b) && b[k].Start < x.End; k++ {
			if b[k].Start > start {
				out = append(out, capture.Interval{Start: start, End: b[k].Start})
			}
			start = max(start, b[k].End)
		}
		if start < x.End {
			out = append(out, capture.Interval{Start: start, End: x.End})
		}
	}
	return out
}

// overlapping counts the sorted disjoint windows that share more than a
// point with s.
func overlapping(windows []capture.Interval, s capture.Interval) int {
	n := 0
	for _, w := range windows {
		if w.Start < s.End && s.Start < w.End {
			n++
		}
	}
	return n
}
