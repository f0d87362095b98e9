// Package labels bounds the labels agents register with and captures are
// started with: how many, and how long each key and value may be. Labels
// are copied into every capture record, index entries and listing, so an
// agent with 250,000 of them made its commits and /agents slow for all.
package labels

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrLimit means a set of labels is over the limits. The text names the
// bound and the offending key.
var ErrLimit = errors.New("labels: over the limits")

// Defaults for Limits.
const (
	// DefaultMaxCount bounds the labels of one agent or capture.
	DefaultMaxCount = 64
	// DefaultMaxKeyBytes bounds one key.
	DefaultMaxKeyBytes = 128
	// DefaultMaxValueBytes bounds one value.
	DefaultMaxValueBytes = 256
)

// Limits bound a set of labels. A zero field takes its default.
type Limits struct {
	// MaxCount bounds how many labels. Zero means DefaultMaxCount.
	MaxCount int
	// MaxKeyBytes bounds each key's length in bytes. Zero means
	// DefaultMaxKeyBytes.
	MaxKeyBytes int
	// MaxValueBytes bounds each value's length in bytes. Zero means
	// DefaultMaxValueBytes.
	MaxValueBytes int
}

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxCount <= 0 {
		l.MaxCount = DefaultMaxCount
	}
	if l.MaxKeyBytes <= 0 {
		l.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	return l
}

// Check returns an ErrLimit naming the first bound m passes (keys in
// order), or nil. An empty key is refused too: no selector can match it.
func (l Limits) Check(m map[string]string) error {
	l = l.WithDefaults()
	if len(m) > l.MaxCount {
		return fmt.Errorf("%w: %d labels, at most %d", ErrLimit, len(m), l.MaxCount)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k]; {
		case k == "":
			return fmt.Errorf("%w: a label with an empty key", ErrLimit)
		case len(k) > l.MaxKeyBytes:
			return fmt.Errorf("%w: label key %q… is %d bytes, at most %d", ErrLimit, short(k), len(k), l.MaxKeyBytes)
		case len(v) > l.MaxValueBytes:
			return fmt.Errorf("%w: label %q has a value of %d bytes, at most %d", ErrLimit, short(k), len(v), l.MaxValueBytes)
		}
	}
	return nil
}

// short cuts a key for an error message.
func short(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
