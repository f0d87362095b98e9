package tracejson

import (
	"fmt"
	"math"
	"strconv"
)

// Time ranges.
const (
	// maxUS is the largest absolute time, in microseconds, whose nanoseconds
	// still fit in an int64 (the base time is kept in nanoseconds).
	maxUS = math.MaxInt64 / 1000
	// maxRelUS bounds an event's distance from the base and its duration
	// (about 46 days each), so that start + dur in picoseconds fits an int64.
	maxRelUS = 4_000_000_000_000
	psPerUS  = 1_000_000
)

// parseTime parses the text of a JSON number of microseconds (or the
// contents of a JSON string holding one) exactly into whole microseconds and
// the picoseconds past them (0 to 999,999), without going through float64.
// Digits past the sixth decimal round half to even to the picosecond (as a
// correctly rounded decimal conversion would); an exponent is applied
// exactly. what is empty on success, else it says what is wrong.
func parseTime(b []byte) (us, ps int64, what string) {
	// Fast path: up to 16 integer digits (2026 in epoch µs has 16), a point
	// and up to 6 decimals; maxUS has 16 digits, so no overflow.
	n, i := len(b), 0
	for i < n && i < 16 {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		us = us*10 + int64(c)
		i++
	}
	if i > 0 && us <= maxUS {
		if i == n {
			return us, 0, ""
		}
		if b[i] == '.' {
			j, k := i+1, 0
			for j < n && k < 6 {
				c := b[j] - '0'
				if c > 9 {
					break
				}
				ps = ps*10 + int64(c)
				j++
				k++
			}
			if j == n && k > 0 {
				for ; k < 6; k++ {
					ps *= 10
				}
				return us, ps, ""
			}
		}
	}
	return parseTimeSlow(b)
}

// parseTimeSlow is parseTime for any JSON number: a sign, many digits, an
// exponent.
func parseTimeSlow(b []byte) (us, ps int64, what string) {
	switch string(b) {
	case "":
		return 0, 0, "is empty"
	case "NaN", "Infinity", "-Infinity", "+Infinity", "nan", "inf", "-inf":
		return 0, 0, fmt.Sprintf("is %s, not a number of microseconds", b)
	}
	n, i := len(b), 0
	neg := b[0] == '-'
	if neg {
		i++
	}
	intStart := i
	for i < n && b[i]-'0' < 10 {
		i++
	}
	intEnd := i
	if intEnd == intStart {
		return 0, 0, fmt.Sprintf("%s is not a number", quoteShort(b))
	}
	fracStart, fracEnd := i, i
	if i < n && b[i] == '.' {
		i++
		fracStart = i
		for i < n && b[i]-'0' < 10 {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return 0, 0, fmt.Sprintf("%s has no digits after the decimal point", quoteShort(b))
		}
	}
	var exp int64
	if i < n && b[i]|0x20 == 'e' {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < n && b[i]-'0' < 10 {
			if exp < 1e9 {
				exp = exp*10 + int64(b[i]-'0')
			}
			i++
		}
		if i == es {
			return 0, 0, fmt.Sprintf("%s has no digits in its exponent", quoteShort(b))
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return 0, 0, fmt.Sprintf("%s is not a number", quoteShort(b))
	}

	// The digits D = int ++ frac; the decimal point sits after point of them.
	point := int64(intEnd-intStart) + exp
	var k int64
	nonzero := false
	var half int64 = -1 // the first digit past the picosecond, if any
	sticky := false     // any nonzero digit after it
	digit := func(d int64) bool {
		if d != 0 {
			nonzero = true
		}
		switch f := k - point; {
		case f < 0:
			if us > (maxUS-d)/10 {
				return false
			}
			us = us*10 + d
		case f < 6:
			ps += d * pow10(5-f)
		case f == 6:
			half = d
		default:
			sticky = sticky || d != 0
		}
		k++
		return true
	}
	for _, r := range [2][2]int{{intStart, intEnd}, {fracStart, fracEnd}} {
		for _, c := range b[r[0]:r[1]] {
			if !digit(int64(c - '0')) {
				return 0, 0, fmt.Sprintf("%s µs is too large", quoteShort(b))
			}
		}
	}
	if us != 0 {
		for ; k < point; k++ {
			if us > maxUS/10 {
				return 0, 0, fmt.Sprintf("%s µs is too large", quoteShort(b))
			}
			us *= 10
		}
	}
	if half > 5 || (half == 5 && (sticky || ps%2 == 1)) {
		if ps++; ps == psPerUS {
			ps = 0
			if us++; us > maxUS {
				return 0, 0, fmt.Sprintf("%s µs is too large", quoteShort(b))
			}
		}
	}
	if neg && nonzero {
		return 0, 0, fmt.Sprintf("is negative (%s)", quoteShort(b))
	}
	return us, ps, ""
}

// pow10 returns 10**n for small n.
func pow10(n int64) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func quoteShort(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "..."
	}
	return strconv.Quote(string(b))
}
