package simserver

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Slowdown makes the ops that match Pattern take Factor times their seed
// time: a server slower than its peers, for fleet outliers and regressions
// in tests and the demo.
type Slowdown struct {
	// Pattern matches an op's operation name (the framework op, or the HLO
	// name of an op without one) or its op type, case-insensitively,
	// anywhere unless anchored.
	Pattern *regexp.Regexp
	// Factor scales the matching ops' durations: 1.4 is 40 % slower, 0.5
	// twice as fast.
	Factor float64
}

// MaxSlowdown bounds a slowdown factor.
const MaxSlowdown = 100

// ParseSlowdown reads a --slowdown value: comma-separated PATTERN=FACTOR
// pairs, e.g. "attention=1.4" or "attention=1.4,sampler=2"; the first
// pattern that matches an op decides its factor. "" means none.
func ParseSlowdown(s string) ([]Slowdown, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []Slowdown
	for part := range strings.SplitSeq(s, ",") {
		i := strings.LastIndex(part, "=")
		if i <= 0 {
			return nil, fmt.Errorf("%w: slowdown %q: want PATTERN=FACTOR, e.g. attention=1.4", ErrConfig, part)
		}
		re, err := regexp.Compile("(?i)" + strings.TrimSpace(part[:i]))
		if err != nil {
			return nil, fmt.Errorf("%w: slowdown %q: %v", ErrConfig, part, err)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(part[i+1:]), 64)
		if err != nil || !(f > 0 && f <= MaxSlowdown) {
			return nil, fmt.Errorf("%w: slowdown %q: the factor must be a number above 0 and at most %d", ErrConfig, part, MaxSlowdown)
		}
		out = append(out, Slowdown{Pattern: re, Factor: f})
	}
	return out, nil
}

// formatSlowdown formats slowdowns as ParseSlowdown reads them.
func formatSlowdown(sl []Slowdown) string {
	parts := make([]string, len(sl))
	for i, s := range sl {
		parts[i] = strings.TrimPrefix(s.Pattern.String(), "(?i)") + "=" + strconv.FormatFloat(s.Factor, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// checkSlowdown validates slowdowns set directly in a Config.
func checkSlowdown(sl []Slowdown) error {
	for _, s := range sl {
		if s.Pattern == nil || !(s.Factor > 0 && s.Factor <= MaxSlowdown) {
			return fmt.Errorf("%w: a slowdown needs a pattern and a factor above 0 and at most %d", ErrConfig, MaxSlowdown)
		}
	}
	return nil
}

// slow scales the seed time of every op a slowdown matches (the first
// that does), and returns how many ops it changed.
func (t *opTable) slow(sl []Slowdown) int {
	n := 0
	for i := range t.ops {
		o := &t.ops[i]
		for _, s := range sl {
			if !s.Pattern.MatchString(o.operation) && !s.Pattern.MatchString(o.typ) {
				continue
			}
			total := max(int64(math.Round(float64(o.total)*s.Factor)), int64(o.occurrences))
			t.total += total - o.total
			o.total = total
			n++
			break
		}
	}
	return n
}
