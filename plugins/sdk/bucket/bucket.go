// Package bucket sorts device ops into components ("attention.flash",
// "mlp.matmul", ...) with an ordered list of rules: each rule matches the
// operation name and/or the op type with a regular expression, and the first
// rule that matches names the component. Ops no rule matches go to the
// default component.
//
// Rules come from a YAML or JSON document (JSON is YAML too):
//
//	version: 1          # optional; 1 is the only version
//	default: other      # optional; "other" when left out
//	rules:
//	  - component: attention.flash
//	    name: flashattention|ragged_paged_attention|rpa-
//	  - component: attention.matmul
//	    name: attention
//	    type: ^dot_general$
//	  - component: control_flow
//	    type: ^Unknown$
//
// Both expressions are Go regexps (RE2 syntax), matched case-insensitively
// anywhere in the text unless anchored with ^ and $. A rule with both must
// match both. Default returns the rules of the seed report; DefaultDocument is
// the same rules as a document to copy and edit.
package bucket

import (
	"errors"
	"fmt"
	"regexp"
)

var (
	// ErrInvalid is wrapped by every error about a rules document; the
	// *FieldError it comes in names the field.
	ErrInvalid = errors.New("bucket: invalid rules")
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

// Rule sends the ops it matches to a component.
type Rule struct {
	// Component is the bucket's name, e.g. "attention.flash".
	Component string
	// Name is the regexp the operation name must match, "" for any.
	Name string
	// Type is the regexp the op type must match, "" for any.
	Type string

	name, typ *regexp.Regexp
}

// NewRule compiles a rule. At least one of name and typ must be set.
func NewRule(component, name, typ string) (Rule, error) {
	r := Rule{Component: component, Name: name, Type: typ}
	if component == "" {
		return Rule{}, &FieldError{Field: "component", Msg: "missing: every rule names the component it sends ops to"}
	}
	if name == "" && typ == "" {
		return Rule{}, &FieldError{Field: "name", Msg: "a rule needs a name or a type expression (or both); ops no rule matches go to the default component"}
	}
	var err error
	if r.name, err = compile(name); err != nil {
		return Rule{}, &FieldError{Field: "name", Msg: fmt.Sprintf("bad regexp %q", name), Err: err}
	}
	if r.typ, err = compile(typ); err != nil {
		return Rule{}, &FieldError{Field: "type", Msg: fmt.Sprintf("bad regexp %q", typ), Err: err}
	}
	return r, nil
}

func compile(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile("(?i:" + expr + ")")
}

// Match reports whether the rule matches an op.
func (r *Rule) Match(operation, opType string) bool {
	if r.name == nil && r.typ == nil {
		return false
	}
	if r.name != nil && !r.name.MatchString(operation) {
		return false
	}
	if r.typ != nil && !r.typ.MatchString(opType) {
		return false
	}
	return true
}

// Rules is an ordered, compiled list of rules. The zero value sends every op
// to DefaultComponent.
type Rules struct {
	// Default is the component of ops no rule matches; "" means
	// DefaultComponent.
	Default string
	// Rules are tried in order; the first that matches wins.
	Rules []Rule
}

// Component returns the component of an op: that of the first rule that
// matches it, or the default.
func (rs *Rules) Component(operation, opType string) string {
	for i := range rs.Rules {
		if rs.Rules[i].Match(operation, opType) {
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
	seen := make(map[string]bool)
	var out []string
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, r := range rs.Rules {
		add(r.Component)
	}
	add(rs.defaultComponent())
	return out
}

// DefaultDocument is the rules of Default as a YAML document: the seed
// report's components. Copy it to start a rules file of your own.
const DefaultDocument = `# fleetprof bucketing rules: the seed report's components.
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

// Default returns the seed report's rules (see DefaultDocument): on the
// lower-cased operation name, flashattention, ragged_paged_attention or rpa-
// give attention.flash; attention gives attention.matmul for dot_general ops
// and attention.misc otherwise; mlp likewise gives mlp.matmul or mlp.misc;
// sampler or logitsprocessor give sampler/logits; type Unknown, or while or
// conditional in the name, give control_flow; anything else is other.
func Default() *Rules {
	rule := func(component, name, typ string) Rule {
		return Rule{Component: component, Name: name, Type: typ,
			name: mustCompile(name), typ: mustCompile(typ)}
	}
	return &Rules{
		Default: DefaultComponent,
		Rules: []Rule{
			rule("attention.flash", "flashattention|ragged_paged_attention|rpa-", ""),
			rule("attention.matmul", "attention", "^dot_general$"),
			rule("attention.misc", "attention", ""),
			rule("mlp.matmul", "mlp", "^dot_general$"),
			rule("mlp.misc", "mlp", ""),
			rule("sampler/logits", "sampler|logitsprocessor", ""),
			rule("control_flow", "", "^Unknown$"),
			rule("control_flow", "while|conditional", ""),
		},
	}
}

// mustCompile compiles the constant expressions of Default.
func mustCompile(expr string) *regexp.Regexp {
	if expr == "" {
		return nil
	}
	return regexp.MustCompile("(?i:" + expr + ")")
}
