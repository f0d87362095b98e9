package bucket

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// The names of the built-in rule sets.
const (
	// DefaultSet names Default: fleetprof's own components.
	DefaultSet = "default"
	// SeedSet names Seed: the seed report's components.
	SeedSet = "seed"
)

// builtins holds the built-in sets' documents by name.
var builtins = map[string]string{
	DefaultSet: DefaultDocument,
	SeedSet:    SeedDocument,
}

// Names returns the names of the built-in rule sets, sorted.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// IsBuiltin reports whether name names a built-in rule set.
func IsBuiltin(name string) bool {
	_, ok := builtins[name]
	return ok
}

// Document returns the document of a built-in rule set, to copy and edit.
func Document(name string) (string, error) {
	doc, ok := builtins[name]
	if !ok {
		return "", fmt.Errorf("%w %q (built in: %s)", ErrUnknownSet, name, strings.Join(Names(), ", "))
	}
	return doc, nil
}

// parsed holds the built-in sets, compiled once.
var parsed = sync.OnceValue(func() map[string]*Rules {
	m := make(map[string]*Rules, len(builtins))
	for name, doc := range builtins {
		rs, err := Parse([]byte(doc))
		if err != nil {
			// The documents are constants, parsed by the tests: a set that
			// does not parse stays out and Lookup reports it unknown.
			continue
		}
		rs.Name = name
		m[name] = rs
	}
	return m
})

// Lookup returns a built-in rule set by name ("default" or "seed"). The
// error wraps ErrUnknownSet and lists the names.
func Lookup(name string) (*Rules, error) {
	rs, ok := parsed()[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (built in: %s)", ErrUnknownSet, name, strings.Join(Names(), ", "))
	}
	cp := *rs
	cp.Rules = slices.Clone(rs.Rules)
	return &cp, nil
}

// Default returns fleetprof's default rules (DefaultDocument): components
// by kind of work, from the op's category, type, operation and kernel name.
func Default() *Rules { return mustLookup(DefaultSet) }

// Seed returns the seed report's rules (SeedDocument): on the lower-cased
// operation name, flashattention, ragged_paged_attention or rpa- give
// attention.flash; attention gives attention.matmul for dot_general ops and
// attention.misc otherwise; mlp likewise gives mlp.matmul or mlp.misc;
// sampler or logitsprocessor give sampler/logits; type Unknown, or while or
// conditional in the name, give control_flow; anything else is other.
//
// They reproduce the seed report's table; on real captures they are poor
// (type Unknown swallows copies and kernels), which is why they are not the
// default.
func Seed() *Rules { return mustLookup(SeedSet) }

// mustLookup returns a built-in set; the sets are constants the tests parse,
// so it cannot fail: if it did, every op would go to DefaultComponent.
func mustLookup(name string) *Rules {
	rs, err := Lookup(name)
	if err != nil {
		return &Rules{Name: name}
	}
	return rs
}

// SeedDocument is the rules of Seed as a YAML document.
const SeedDocument = `# fleetprof bucketing rules "seed": the seed report's components.
# Rules are tried in order and the first match wins. "name" matches the
# framework operation name and "type" the op type, both as case-insensitive
# Go regexps found anywhere in the text (anchor with ^ and $).
version: 1
default: other
rules:
  - component: attention.flash
    name: flashattention|ragged_paged_attention|rpa-
  - component: attention.matmul
    name: attention
    type: ^dot_general$
  - component: attention.misc
    name: attention
  - component: mlp.matmul
    name: mlp
    type: ^dot_general$
  - component: mlp.misc
    name: mlp
  - component: sampler/logits
    name: sampler|logitsprocessor
  - component: control_flow
    type: ^Unknown$
  - component: control_flow
    name: while|conditional
`

// Resolve reads a rules choice as a user gives it (`--rules`): the name of a
// built-in set, or the path of a rules file (YAML or JSON). It returns the
// parsed rules and the option string to hand the components analyzer (the
// set's name as it is, or the file's contents). A missing or bad file is an
// error that names the built-in sets too.
func Resolve(value string) (rules *Rules, option string, err error) {
	if IsBuiltin(value) {
		rules, err = Lookup(value)
		return rules, value, err
	}
	doc, err := os.ReadFile(value)
	if err != nil {
		return nil, "", fmt.Errorf("read rules (a file, or a built-in set: %s): %w", strings.Join(Names(), ", "), err)
	}
	if rules, err = Parse(doc); err != nil {
		return nil, "", fmt.Errorf("read rules %s: %w", value, err)
	}
	return rules, string(doc), nil
}
