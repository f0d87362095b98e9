package tracejson

import (
	"strings"
	"testing"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in     string
		us, ps int64
	}{
		{"0", 0, 0},
		{"0.0", 0, 0},
		{"0.000000", 0, 0},
		{"-0", 0, 0},
		{"-0.000", 0, 0},
		{"1", 1, 0},
		{"1.5", 1, 500000},
		{"0.000001", 0, 1},
		{"0.07", 0, 70000},
		{"17.470000", 17, 470000},
		{"00012.5", 12, 500000},
		{"5045165.500000", 5045165, 500000},
		// 22 significant digits: float64 would be off by up to 0.25 µs.
		{"1770323795654.017629", 1770323795654, 17629},
		{"1770323795654.017600", 1770323795654, 17600},
		{"1770323795654.0176", 1770323795654, 17600},
		{"1770323795654.999999", 1770323795654, 999999},
		{"9223372036854775", 9223372036854775, 0},
		{"9223372036854775.999999", 9223372036854775, 999999},
		// More than six decimals round half to even to the picosecond.
		{"0.0000005", 0, 0},
		{"0.0000015", 0, 2},
		{"0.00000050001", 0, 1},
		{"0.0000025", 0, 2},
		{"0.9999995", 1, 0},
		// Real files: exponent notation and 17-digit decimals.
		{"7.4999999999999993e-05", 0, 75},
		{"903620.34499999997", 903620, 345000},
		{"1.0000000000000000005e-6", 0, 1},
		{"0.0000004999999", 0, 0},
		{"0.9999994", 0, 999999},
		{"1.9999995", 2, 0},
		{"1770323795654.0176295", 1770323795654, 17630},
		{"1770323795654.01762949999", 1770323795654, 17629},
		{"1770323795654.017629" + strings.Repeat("0", 300) + "1", 1770323795654, 17629},
		// Exponents are applied exactly.
		{"1e0", 1, 0},
		{"1E+2", 100, 0},
		{"1.5e3", 1500, 0},
		{"123456e-3", 123, 456000},
		{"1770323795654017629e-6", 1770323795654, 17629},
		{"1.770323795654017629E12", 1770323795654, 17629},
		{"5e-7", 0, 0},
		{"15e-7", 0, 2},
		{"4e-7", 0, 0},
		{"0e999999999", 0, 0},
		{"1e-999999999", 0, 0},
		{"0.0000000000000001e16", 1, 0},
	}
	for _, tt := range tests {
		us, ps, what := parseTime([]byte(tt.in))
		if what != "" || us != tt.us || ps != tt.ps {
			t.Errorf("parseTime(%.40q) = %d, %d, %q; want %d, %d", tt.in, us, ps, what, tt.us, tt.ps)
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	tests := []struct {
		in, what string
	}{
		{"", "empty"},
		{"-1", "negative"},
		{"-0.000001", "negative"},
		{"-1e-9", "negative"},
		{"-1770323795654.017629", "negative"},
		{"NaN", "not a number"},
		{"Infinity", "not a number"},
		{"-Infinity", "not a number"},
		{"abc", "not a number"},
		{"true", "not a number"},
		{".5", "not a number"},
		{"+1", "not a number"},
		{"-", "not a number"},
		{" 1", "not a number"},
		{"1 ", "not a number"},
		{"1_000", "not a number"},
		{"0x10", "not a number"},
		{"1.2.3", "not a number"},
		{"1.", "no digits after the decimal point"},
		{"1.e5", "no digits after the decimal point"},
		{"1e", "no digits in its exponent"},
		{"1e+", "no digits in its exponent"},
		{"9223372036854776", "too large"},
		{"1e16", "too large"},
		{"9.3e15", "too large"},
		{"9223372036854775.9999995", "too large"},
		{strings.Repeat("9", 40), "too large"},
		{"1e999999999999999999999", "too large"},
	}
	for _, tt := range tests {
		us, ps, what := parseTime([]byte(tt.in))
		if !strings.Contains(what, tt.what) {
			t.Errorf("parseTime(%.40q) = %d, %d, %q; want an error saying %q", tt.in, us, ps, what, tt.what)
		}
	}
}
