package captureopt

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads the options a policy file's mapping sets, keyed by
// Key (host_tracer_level, workload_body, ...), each value parsed as its
// flag parses it; options the mapping leaves out keep their value (start
// from Defaults). It does not validate: call Validate.
func (o *Options) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of capture options", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return &OptionError{Name: k.Value, Line: v.Line, Want: "want a single value", Err: ErrSyntax}
		}
		if _, ok := lookup(k.Value); !ok {
			return &OptionError{Name: k.Value, Line: k.Line, Want: "no such option (keys are the flag names with _ for -)", Err: ErrUnknown}
		}
		if k.Value != Key(k.Value) {
			return &OptionError{Name: k.Value, Line: k.Line, Want: "write it " + Key(k.Value) + " (keys are the flag names with _ for -)", Err: ErrUnknown}
		}
		if err := o.Set(k.Value, v.Value); err != nil {
			if oe, ok := err.(*OptionError); ok {
				oe.Line = v.Line
			}
			return err
		}
	}
	return nil
}
