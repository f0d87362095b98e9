// Package numfmt is fleetprof's one way of writing numbers for people: the
// CLI's tables, the reports (Markdown, HTML), the web UI, diffs and the
// built-in analyzers' labels all format through it, so the same value
// prints the same everywhere.
//
// The rules: thousands are grouped with commas; a float64 prints as the
// correctly rounded decimal of its value (strconv's rounding, which the seed
// reports share), and a time held in integer picoseconds is first turned
// into the same float64 a report's JSON holds (float64(ps)/1e6, see
// MicrosPS), so the CLI and a report print the same digits; counts print as
// integers; zero never prints with a minus sign; microseconds are spelled µs
// (JSON keys keep their _us suffixes).
//
// It lives beside the plugin SDK, not in it: the built-in analyzers and the
// collector share it, and it makes no promise to third-party plugins.
package numfmt

import (
	"math"
	"strconv"
	"strings"
)

// Micro is how a microsecond is spelled for people.
const Micro = "µs"

// Units of time in picoseconds, for Duration.
const (
	psPerMicro  = 1_000_000
	psPerMilli  = 1_000 * psPerMicro
	psPerSecond = 1_000 * psPerMilli
)

// Group puts thousands separators in the integer part of a decimal string
// ("-1234567.5" → "-1,234,567.5").
func Group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.Grow(len(s) + len(s)/3 + 1)
	b.WriteString(sign)
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Int formats a count: 1240 → "1,240".
func Int(n int64) string { return Group(strconv.FormatInt(n, 10)) }

// maxExact bounds the whole numbers Value prints as integers.
const maxExact = 1 << 53

// Fixed formats v with digits decimals (0 to 9), grouped; a value that
// rounds to zero prints without a sign.
func Fixed(v float64, digits int) string {
	digits = min(max(digits, 0), 9)
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.") == "" {
		s = s[1:]
	}
	return Group(s)
}

// MicrosValue formats microseconds as a number with three decimals (to the
// nanosecond): 3030.2035 → "3,030.203". Tables put µs in the heading.
func MicrosValue(us float64) string { return Fixed(us, 3) }

// MicrosPS formats picoseconds as MicrosValue does the same time in µs as a
// report's JSON holds it (float64(ps)/1e6), so both print the same digits.
func MicrosPS(ps int64) string { return MicrosValue(float64(ps) / psPerMicro) }

// Micros formats microseconds with their unit, and the value in ms or s
// beside it when that is easier to read: "3,030.203 µs (3.030 ms)".
func Micros(us float64) string {
	s := MicrosValue(us) + " " + Micro
	switch a := math.Abs(us); {
	case a >= 1e6:
		s += " (" + Fixed(us/1e6, 3) + " s)"
	case a >= 1e3:
		s += " (" + Fixed(us/1e3, 3) + " ms)"
	}
	return s
}

// Duration formats picoseconds exactly in whichever of µs, ms and s reads
// best, rounded half away from zero to three decimals: "453.051 µs",
// "1.162 ms" (for 1,161.5 µs), "5.045 s".
func Duration(ps int64) string {
	unit, name := int64(psPerMicro), Micro
	switch a := max(ps, -ps); {
	case a >= psPerSecond:
		unit, name = psPerSecond, "s"
	case a >= psPerMilli:
		unit, name = psPerMilli, "ms"
	}
	sign, a := "", ps
	if ps < 0 {
		sign, a = "-", -ps
	}
	step := unit / 1000 // thousandths of the unit
	q := (a + step/2) / step
	if q == 0 {
		sign = ""
	}
	frac := strconv.FormatInt(q%1000, 10)
	return sign + Int(q/1000) + "." + strings.Repeat("0", 3-len(frac)) + frac + " " + name
}

// Pct formats a percentage with digits decimals and a % sign ("99.97%"),
// adding decimals (up to six) when rounding would show a share that is not
// 0 as 0.00% or one that is not 100 as 100.00%.
func Pct(v float64, digits int) string {
	s := Fixed(v, digits)
	for d := digits; d < 6; d++ {
		r, _ := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
		if (r == 0 && v != 0) || (r == 100 && v != 100) {
			s = Fixed(v, d+1)
			continue
		}
		break
	}
	return s + "%"
}

// Value formats a figure of a unit: µs ("us" or "µs") with three decimals,
// "%" as Pct with two, and counts (unit "" or "count") as integers when
// they are whole, else as short as their value allows.
func Value(v float64, unit string) string {
	switch unit {
	case "us", Micro:
		return MicrosValue(v)
	case "%":
		return Pct(v, 2)
	}
	if v == math.Trunc(v) && math.Abs(v) < maxExact {
		return Int(int64(v))
	}
	return Group(strconv.FormatFloat(v, 'f', -1, 64))
}

// Signed is Value with a sign: "+12.000", "-3", and "0" (no sign) for no
// change.
func Signed(v float64, unit string) string {
	s := Value(v, unit)
	if strings.TrimLeft(s, "0.,%") == "" { // rounds to zero
		return s
	}
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// Change formats a relative change in percent with one decimal and a sign:
// "+12.3%", "-0.5%", and "0.0%" for a change that rounds to nothing.
func Change(pct float64) string {
	s := Fixed(pct, 1)
	if s != "0.0" && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + "%"
}
