package bucket

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Version is the rules document version this package reads.
const Version = 1

// Parse reads a rules document (YAML or JSON), sets defaults and validates
// it. Every error is a *FieldError naming the field and its line, and wraps
// ErrInvalid.
func Parse(doc []byte) (*Rules, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, &FieldError{Msg: "not YAML or JSON: fix the syntax", Err: err}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &FieldError{Msg: "empty document: give at least a rules list"}
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &FieldError{Line: top.Line, Msg: "the document must be a mapping with keys version, default and rules"}
	}
	rs := &Rules{Default: DefaultComponent}
	var sawRules bool
	err := eachKey(top, "", []string{"version", "default", "rules"}, func(key string, k, v *yaml.Node) error {
		switch key {
		case "version":
			if v.Kind != yaml.ScalarNode || v.Value != fmt.Sprint(Version) {
				return &FieldError{Field: "version", Line: v.Line, Msg: fmt.Sprintf("got %q, this fleetprof reads version %d", v.Value, Version)}
			}
		case "default":
			s, err := scalar("default", v)
			if err != nil {
				return err
			}
			if s == "" {
				return &FieldError{Field: "default", Line: v.Line, Msg: "empty: name the component of ops no rule matches, or leave the key out for \"other\""}
			}
			rs.Default = s
		case "rules":
			sawRules = true
			if v.Kind != yaml.SequenceNode {
				return &FieldError{Field: "rules", Line: v.Line, Msg: "must be a list of rules"}
			}
			if len(v.Content) == 0 {
				return &FieldError{Field: "rules", Line: v.Line, Msg: "empty: give at least one rule"}
			}
			for i, n := range v.Content {
				r, err := parseRule(fmt.Sprintf("rules[%d]", i), n)
				if err != nil {
					return err
				}
				rs.Rules = append(rs.Rules, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !sawRules {
		return nil, &FieldError{Field: "rules", Line: top.Line, Msg: "missing: give an ordered list of rules"}
	}
	return rs, nil
}

func parseRule(field string, n *yaml.Node) (Rule, error) {
	keys := append([]string{"component"}, ruleKeys...)
	if n.Kind != yaml.MappingNode {
		return Rule{}, &FieldError{Field: field, Line: n.Line, Msg: "must be a mapping with keys " + strings.Join(keys, ", ")}
	}
	var r Rule
	lines := map[string]int{}
	for _, k := range keys {
		lines[k] = n.Line
	}
	err := eachKey(n, field+".", keys, func(key string, k, v *yaml.Node) error {
		s, err := scalar(field+"."+key, v)
		if err != nil {
			return err
		}
		lines[key] = v.Line
		switch key {
		case "component":
			r.Component = s
		case "name":
			r.Name = s
		case "type":
			r.Type = s
		case "category":
			r.Category = s
		case "kernel":
			r.Kernel = s
		}
		return nil
	})
	if err != nil {
		return Rule{}, err
	}
	r, err = r.Compile()
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.Line = lines[fe.Field]
		fe.Field = field + "." + fe.Field
		return Rule{}, fe
	}
	return r, err
}

// eachKey calls fn for each key of mapping m, in order, after checking that
// the key is known and not repeated.
func eachKey(m *yaml.Node, prefix string, known []string, fn func(key string, k, v *yaml.Node) error) error {
	seen := make(map[string]bool)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := k.Value
		if !slices.Contains(known, key) {
			return &FieldError{Field: prefix + key, Line: k.Line, Msg: fmt.Sprintf("unknown key (known: %s)", strings.Join(known, ", "))}
		}
		if seen[key] {
			return &FieldError{Field: prefix + key, Line: k.Line, Msg: "repeated key"}
		}
		seen[key] = true
		if err := fn(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

func scalar(field string, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", &FieldError{Field: field, Line: v.Line, Msg: "must be a string"}
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}
