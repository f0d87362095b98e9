package tracejson

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestFastTimeAgreesWithParseTime checks that what fastTime accepts,
// parseTime reads the same, and that fastTime leaves alone what parseTime's
// fast path does not take.
func TestFastTimeAgreesWithParseTime(t *testing.T) {
	cases := []string{"0", "1", "1.5", "1770322541133790.963003", "1770322541133790.000000", "9999999999999999.999999",
		"1770322541133790.96300", "177032254113379a.963003", "1770322541133790.96x003", "0000000000000000.000001", "1770322541133790.9630031", "17703225411337901.5",
		"9223372036854775", "9223372036854776", "1.", ".5", "-1", "1e3", "1.5e3", "00012.000001", "12.3456789", "NaN", ""}
	r := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		cases = append(cases, strconv.FormatUint(1e15+r.Uint64N(9e15), 10)+"."+strconv.FormatUint(1e6+r.Uint64N(9e6), 10)[1:])
	}
	for range 5000 {
		var sb strings.Builder
		sb.WriteString(strconv.FormatUint(r.Uint64N(1<<uint(r.IntN(60)+1)), 10))
		if r.IntN(4) > 0 {
			sb.WriteByte('.')
			for range r.IntN(9) {
				sb.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		cases = append(cases, sb.String())
	}
	for _, c := range cases {
		for _, term := range []string{",", "}", " ", "x", "", `,"`, `}]`, `,"name":"x"}`, "x12345678"} {
			b := []byte(c + term)
			end, us, ps, ok := fastTime(b, 0)
			if !ok {
				continue
			}
			if term[0] != ',' && term[0] != '}' {
				t.Fatalf("fastTime(%q) took a number not followed by ',' or '}'", b)
			}
			if end != len(c) {
				t.Fatalf("fastTime(%q) ends at %d, want %d", b, end, len(c))
			}
			wus, wps, what := parseTime([]byte(c))
			if what != "" || us != wus || ps != wps {
				t.Fatalf("fastTime(%q) = %d µs %d ps; parseTime = %d µs %d ps %q", b, us, ps, wus, wps, what)
			}
		}
	}
}
