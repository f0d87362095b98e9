// Package size reads and writes byte counts as fleetprof's flags, config
// files and output spell them: "1048576", "500MB" (decimal) or "10GiB"
// (binary). Like plugins/transport, it is shared by the agent and the
// collector and is not part of the plugin SDK.
package size

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Errors.
var (
	// ErrSyntax means the text is not a size.
	ErrSyntax = errors.New("size: not a size like 500MB or 10GiB")
	// ErrRange means the size does not fit (at most 4 EiB).
	ErrRange = errors.New("size: too large")
)

var sizeRE = regexp.MustCompile(`^(\d+)\s*([KMGT]i?B|B)?$`)

var mult = map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}

// Parse reads a non-negative byte count: digits, optionally a space, and
// optionally a unit among B, KB, MB, GB, TB (powers of 1000) and KiB, MiB,
// GiB, TiB (powers of 1024). Fractions and signs are refused.
func Parse(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	k := mult[m[2]]
	if n > (1<<62)/k {
		return 0, fmt.Errorf("%w: %q", ErrRange, s)
	}
	return n * k, nil
}

// Bytes is a byte count in a YAML file, written as a number or as Parse
// reads it: "10GiB", "500MB".
type Bytes int64

// UnmarshalYAML parses a size; the error names the line.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = Bytes(v)
	return nil
}

// Format writes n for people, in binary units with one decimal: "512 B",
// "1.5 KiB", "20.0 MiB", "3.2 GiB".
func Format(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n) / 1024
	i := 0
	for (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i]
}
