// Package selector parses and matches label selectors: comma-separated
// requirements "key=value", "key!=value", "key" (the label is set) and
// "!key" (it is not), all of which must hold.
package selector

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax means a selector does not parse.
var ErrSyntax = errors.New("selector: bad syntax")

// Op is a requirement's operator.
type Op int

// The operators.
const (
	// Equal requires label key to be set to Value.
	Equal Op = iota
	// NotEqual requires label key to be unset or set to another value.
	NotEqual
	// Exists requires label key to be set.
	Exists
	// NotExists requires label key to be unset.
	NotExists
)

// Requirement is one condition on one label.
type Requirement struct {
	// Key is the label's name.
	Key string
	// Op is the condition.
	Op Op
	// Value is the value compared with, for Equal and NotEqual.
	Value string
}

// Selector is a conjunction of requirements. The zero value matches every
// label set.
type Selector struct {
	// Reqs are the requirements, in the order given.
	Reqs []Requirement
}

// Parse parses a selector such as "model=qwen3,zone=us-east5-b". An empty
// string matches everything.
func Parse(s string) (Selector, error) {
	var sel Selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		var r Requirement
		switch {
		case part == "":
			return Selector{}, fmt.Errorf("%w: empty requirement in %q", ErrSyntax, s)
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			r = Requirement{Key: strings.TrimSpace(k), Op: NotEqual, Value: strings.TrimSpace(v)}
		case strings.Contains(part, "="):
			k, v, _ := strings.Cut(part, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			k = strings.TrimSuffix(k, "=")
			v = strings.TrimPrefix(v, "=") // "key==value"
			r = Requirement{Key: strings.TrimSpace(k), Op: Equal, Value: strings.TrimSpace(v)}
		case strings.HasPrefix(part, "!"):
			r = Requirement{Key: strings.TrimSpace(part[1:]), Op: NotExists}
		default:
			r = Requirement{Key: part, Op: Exists}
		}
		if !validKey(r.Key) {
			return Selector{}, fmt.Errorf("%w: label name %q in %q: use letters, digits, '.', '_', '-' and '/'", ErrSyntax, r.Key, s)
		}
		sel.Reqs = append(sel.Reqs, r)
	}
	return sel, nil
}

// validKey reports whether k can name a label.
func validKey(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for _, c := range []byte(k) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}

// Matches reports whether labels satisfy every requirement.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.Reqs {
		v, ok := labels[r.Key]
		switch r.Op {
		case Equal:
			if !ok || v != r.Value {
				return false
			}
		case NotEqual:
			if ok && v == r.Value {
				return false
			}
		case Exists:
			if !ok {
				return false
			}
		case NotExists:
			if ok {
				return false
			}
		}
	}
	return true
}

// Empty reports whether s matches everything.
func (s Selector) Empty() bool { return len(s.Reqs) == 0 }

// String formats s as Parse reads it.
func (s Selector) String() string {
	parts := make([]string, len(s.Reqs))
	for i, r := range s.Reqs {
		switch r.Op {
		case Equal:
			parts[i] = r.Key + "=" + r.Value
		case NotEqual:
			parts[i] = r.Key + "!=" + r.Value
		case Exists:
			parts[i] = r.Key
		case NotExists:
			parts[i] = "!" + r.Key
		}
	}
	return strings.Join(parts, ",")
}
