package capture

import (
	"cmp"
	"slices"
)

// Interval is a closed interval [Start, End] in picoseconds.
type Interval struct {
	Start, End int64
}

// Len returns End - Start.
func (i Interval) Len() int64 { return i.End - i.Start }

// Meets reports whether two closed intervals share at least one point.
func (i Interval) Meets(j Interval) bool { return i.Start <= j.End && j.Start <= i.End }

// Union sorts the intervals and merges those that overlap or touch, in place,
// returning the disjoint result.
func Union(iv []Interval) []Interval {
	if len(iv) == 0 {
		return iv
	}
	slices.SortFunc(iv, func(a, b Interval) int { return cmp.Compare(a.Start, b.Start) })
	out := iv[:1]
	for _, x := range iv[1:] {
		last := &out[len(out)-1]
		if x.Start <= last.End {
			last.End = max(last.End, x.End)
			continue
		}
		out = append(out, x)
	}
	return out
}

// TotalLen returns the summed length of disjoint intervals.
func TotalLen(iv []Interval) int64 {
	var n int64
	for _, x := range iv {
		n += x.Len()
	}
	return n
}

// Windows builds the non-idle windows from busy intervals (any order, any
// overlap): take their union; merge neighbours whose gap is shorter than gap;
// widen each by pad on both sides, clipped to span; merge any that now
// overlap. busy is reordered in place.
func Windows(busy []Interval, gap, pad int64, span Interval) []Interval {
	u := Union(busy)
	if len(u) == 0 {
		return nil
	}
	merged := u[:1]
	for _, x := range u[1:] {
		last := &merged[len(merged)-1]
		if x.Start-last.End < gap {
			last.End = max(last.End, x.End)
			continue
		}
		merged = append(merged, x)
	}
	out := make([]Interval, 0, len(merged))
	for _, x := range merged {
		w := Interval{max(x.Start-pad, span.Start), min(x.End+pad, span.End)}
		if n := len(out); n > 0 && w.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, w.End)
			continue
		}
		out = append(out, w)
	}
	return out
}

// Hits reports whether iv meets any of the sorted, disjoint windows.
func Hits(windows []Interval, iv Interval) bool {
	// First window whose end is >= iv.Start.
	i, _ := slices.BinarySearchFunc(windows, iv.Start, func(w Interval, t int64) int { return cmp.Compare(w.End, t) })
	return i < len(windows) && windows[i].Start <= iv.End
}
