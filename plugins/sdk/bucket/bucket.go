// Package bucket sorts device ops into components ("matmul", "attention",
// "collectives", ...) with an ordered list of rules: each rule matches an
// op's operation name, op type, category and/or kernel name with regular
// expressions, and the first rule that matches names the component. Ops no
// rule matches go to the default component.
//
// Rules come from a YAML or JSON document (JSON is YAML too):
//
//	version: 1          # optional; 1 is the only version
//	default: other      # optional; "other" when left out
//	rules:
//	  - component: attention
//	    name: flash|ragged_paged_attention|rpa-
//	  - component: matmul
//	    type: ^dot_general$
//	  - component: data_movement
//	    category: ^(copy-start|copy-done|data formatting)$
//	  - component: matmul
//	    kernel: gemm|Cijk_
//
// Every expression is a Go regexp (RE2 syntax), matched case-insensitively
// anywhere in the text unless anchored with ^ and $. A rule with several
// must match all of them. The keys match the fields of ops.Op: name the
// operation, type the op type, category the category (XLA's hlo_category or
// kineto's cat), kernel the op event's own name (a GPU kernel's name; on a
// TPU the HLO instruction or its text).
//
// Two rule sets are built in (Builtin): "default", fleetprof's own
// components by kind of work (Default, DefaultDocument), and "seed", the seed
// report's components (Seed, SeedDocument), kept so its tables can be
// reproduced.
package bucket

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

var (
	// ErrInvalid is wrapped by every error about a rules document; the
	// *FieldError it comes in names the field.
	ErrInvalid = errors.New("bucket: invalid rules")
	// ErrUnknownSet is returned by Lookup for a name that is no built-in set.
	ErrUnknownSet = errors.New("bucket: no such built-in rules set")
)

// DefaultComponent is the component of ops no rule matches, unless the
// document sets another.
const DefaultComponent = "other"

// FieldError is an error in one field of a rules document.
type FieldError struct {
	// Field is the path of the field, e.g. "rules[2].name".
	Field string
	// Line is the 1-based line of the field in the document, 0 if unknown.
	Line int
	// Msg says what is wrong and what to do.
	Msg string
	// Err is the underlying error, if any (a regexp syntax error, say).
	Err error
}

// Error implements error.
func (e *FieldError) Error() string {
	where := e.Field
	if where == "" {
		where = "document"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s (line %d)", where, e.Line)
	}
	s := fmt.Sprintf("%v: %s: %s", ErrInvalid, where, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalid and the underlying error.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// Rule sends the ops it matches to a component. Build one with its exported
// fields and Compile it.
type Rule struct {
	// Component is the bucket's name, e.g. "attention".
	Component string
	// Name is the regexp the operation name must match, "" for any.
	Name string
	// Type is the regexp the op type must match, "" for any.
	Type string
	// Category is the regexp the op's category must match, "" for any.
	Category string
	// Kernel is the regexp the op event's own name must match, "" for any.
	Kernel string

	name, typ, category, kernel *regexp.Regexp
}

// ruleKeys are the document keys of a rule's expressions, in order.
var ruleKeys = []string{"name", "type", "category", "kernel"}

// Compile checks a rule and compiles its expressions. The component must be
// set, and at least one expression. Errors are *FieldError naming the key
// ("component", "name", "type", "category" or "kernel").
func (r Rule) Compile() (Rule, error) {
	if r.Component == "" {
		return Rule{}, &FieldError{Field: "component", Msg: "missing: every rule names the component it sends ops to"}
	}
	if r.Name == "" && r.Type == "" && r.Category == "" && r.Kernel == "" {
		return Rule{}, &FieldError{Field: "name", Msg: "a rule needs a name, type, category or kernel expression (or several); ops no rule matches go to the default component"}
	}
	exprs := []string{r.Name, r.Type, r.Category, r.Kernel}
	out := []**regexp.Regexp{&r.name, &r.typ, &r.category, &r.kernel}
	for i, expr := range exprs {
		re, err := compile(expr)
		if err != nil {
			return Rule{}, &FieldError{Field: ruleKeys[i], Msg: fmt.Sprintf("bad regexp %q", expr), Err: err}
		}
		*out[i] = re
	}
	return r, nil
}

func compile(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile("(?i:" + expr + ")")
}

// Match reports whether the rule matches an op. A rule that was not
// compiled matches nothing.
func (r *Rule) Match(op ops.Op) bool {
	if r.name == nil && r.typ == nil && r.category == nil && r.kernel == nil {
		return false
	}
	if r.name != nil && !r.name.MatchString(op.Operation) {
		return false
	}
	if r.typ != nil && !r.typ.MatchString(op.Type) {
		return false
	}
	if r.category != nil && !r.category.MatchString(op.Category) {
		return false
	}
	if r.kernel != nil {
		var kernel string
		if op.Event != nil {
			kernel = op.Event.Name
		}
		if !r.kernel.MatchString(kernel) {
			return false
		}
	}
	return true
}

// Rules is an ordered, compiled list of rules. The zero value sends every op
// to DefaultComponent.
type Rules struct {
	// Name is the built-in set's name ("default", "seed"), "" for rules read
	// from a document.
	Name string
	// Default is the component of ops no rule matches; "" means
	// DefaultComponent.
	Default string
	// Rules are tried in order; the first that matches wins.
	Rules []Rule
}

// Component returns the component of an op: that of the first rule that
// matches it, or the default.
func (rs *Rules) Component(op ops.Op) string {
	for i := range rs.Rules {
		if rs.Rules[i].Match(op) {
			return rs.Rules[i].Component
		}
	}
	return rs.defaultComponent()
}

func (rs *Rules) defaultComponent() string {
	if rs.Default == "" {
		return DefaultComponent
	}
	return rs.Default
}

// Components returns every component the rules can give, each once, in rule
// order, the default last.
func (rs *Rules) Components() []string {
	var out []string
	for _, r := range rs.Rules {
		if !slices.Contains(out, r.Component) {
			out = append(out, r.Component)
		}
	}
	if d := rs.defaultComponent(); !slices.Contains(out, d) {
		out = append(out, d)
	}
	return out
}
