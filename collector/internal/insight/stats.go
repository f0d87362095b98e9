package insight

import (
	"math"
	"slices"
)

// MADScale turns a median absolute deviation into an estimate of the
// standard deviation of normally distributed values (1/Φ⁻¹(3/4)).
const MADScale = 1.4826

// Median returns the median of xs: the middle value, or the mean of the two
// middle values of an even count; 0 for none. xs is not changed.
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MAD returns the median absolute deviation of xs from m: the median of
// |x − m|.
func MAD(xs []float64, m float64) float64 {
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return Median(d)
}

// Quantile returns the nearest-rank q-quantile of xs (0 < q ≤ 1): the
// smallest value with at least q·n of the values at or below it; 0 for
// none. xs is not changed.
func Quantile(xs []float64, q float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(n))) - 1
	return s[max(0, min(rank, n-1))]
}

// Stats are the aggregates of one figure over hosts or captures.
type Stats struct {
	// Median is the median value.
	Median float64 `json:"median"`
	// P90 is the nearest-rank 90th percentile.
	P90 float64 `json:"p90"`
	// Max is the largest value.
	Max float64 `json:"max"`
	// MAD is the median absolute deviation from the median.
	MAD float64 `json:"mad"`
	// N is how many values there are.
	N int `json:"n"`
}

// statsOf returns the aggregates of xs.
func statsOf(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	m := Median(xs)
	return Stats{Median: m, P90: Quantile(xs, 0.9), Max: slices.Max(xs), MAD: MAD(xs, m), N: len(xs)}
}

// Rule is the robust test both the fleet's outliers and the regressions
// use: a value x is far from reference values with median m and median
// absolute deviation d when all of
//
//	|x − m| > MinChange · m
//	|x − m| > MADs · MADScale · d      (skipped when d = 0 or when there are
//	                                    fewer than MinForMAD reference values)
//	|x − m| > Floor
//
// hold. The zero value is not useful; DefaultRule is the documented one.
type Rule struct {
	// MADs is how many scaled MADs x must be away. Default 3.
	MADs float64
	// MinChange is the smallest relative change that counts. Default 0.10.
	MinChange float64
	// MinForMAD is the fewest reference values whose MAD is trusted; with
	// fewer, only MinChange and Floor apply. Default 3.
	MinForMAD int
	// Floor is an absolute change below which nothing counts, in the
	// values' unit: callers set it to a small share of the device op time,
	// so that a 0.3 µs op that doubles is not news.
	Floor float64
}

// DefaultRule is the rule docs/fleet.md documents: more than 3 scaled MADs
// and more than 10 % away from the median.
var DefaultRule = Rule{MADs: 3, MinChange: 0.10, MinForMAD: 3}

// FloorShare is the share of the reference device op time below which a
// difference in a component or an op is not reported (Rule.Floor).
const FloorShare = 0.01

// Far reports whether x is far from reference values with median m, MAD d,
// counting n, by the rule.
func (r Rule) Far(x, m, d float64, n int) bool {
	dev := math.Abs(x - m)
	if math.IsNaN(dev) || dev <= r.MinChange*math.Abs(m) || dev <= r.Floor {
		return false
	}
	if d > 0 && n >= r.MinForMAD && dev <= r.MADs*MADScale*d {
		return false
	}
	return true
}
