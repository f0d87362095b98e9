package numfmt

import "testing"

func TestFixed(t *testing.T) {
	tests := []struct {
		v      float64
		digits int
		want   string
	}{
		{3030.2025, 3, "3,030.202"}, // stored as 3030.20249999…
		{3030.2026, 3, "3,030.203"},
		{-0.0001, 3, "0.000"},
		{-1234567.6, 0, "-1,234,568"},
		{999.9996, 3, "1,000.000"},
		{12, 1, "12.0"},
	}
	for _, tt := range tests {
		if got := Fixed(tt.v, tt.digits); got != tt.want {
			t.Errorf("Fixed(%v, %d) = %q, want %q", tt.v, tt.digits, got, tt.want)
		}
	}
}

// TestSameValue: a time prints the same from integer picoseconds (the
// CLI's summaries) and from the float64 a report's JSON holds.
func TestSameValue(t *testing.T) {
	for _, ps := range []int64{3_030_202_500, 3_030_203_500, 453_051_250, 1_500, 999_999_500, 5_045_123_456_789} {
		us := float64(ps) / 1e6
		if a, b := MicrosPS(ps), MicrosValue(us); a != b {
			t.Errorf("MicrosPS(%d) = %q but MicrosValue(%v) = %q", ps, a, us, b)
		}
	}
}

func TestUnits(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"Micros", Micros(3030.2031), "3,030.203 µs (3.030 ms)"},
		{"Micros small", Micros(12.5), "12.500 µs"},
		{"Duration", Duration(453_051_250), "453.051 µs"},
		{"Duration ms", Duration(1_162_000_000), "1.162 ms"},
		{"Duration zero", Duration(-1), "0.000 µs"},
		{"Pct", Pct(99.9712, 2), "99.97%"},
		{"Pct near 0", Pct(0.0004, 2), "0.0004%"},
		{"Pct near 100", Pct(99.9996, 2), "99.9996%"},
		{"count", Value(1240, ""), "1,240"},
		{"count unit", Value(1240, "count"), "1,240"},
		{"fraction", Value(2.5, ""), "2.5"},
		{"us", Value(1240, "us"), "1,240.000"},
		{"signed zero", Signed(-0.0000001, "us"), "0.000"},
		{"signed count", Signed(-3, "count"), "-3"},
		{"signed up", Signed(12, ""), "+12"},
		{"change zero", Change(-0.01), "0.0%"},
		{"change up", Change(12.34), "+12.3%"},
		{"change down", Change(-5.06), "-5.1%"},
		{"Int", Int(-1234567), "-1,234,567"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
