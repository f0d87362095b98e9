// Package components is the components analyzer: device op time by
// component, from ordered bucketing rules.
package components

import (
	"context"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// RulesOption is the Input.Options key that holds the bucketing rules: the
// name of a built-in set ("default", "seed"; see bucket.Lookup) or a rules
// document (YAML or JSON, see package bucket). Without it, or empty, the
// analyzer uses bucket.Default().
const RulesOption = "rules"

// Analyzer sums a capture's device op time by component: each op goes to the
// component of the first bucketing rule that matches its operation name, op
// type, category or kernel name.
type Analyzer struct{}

var breakdown = figure.Breakdown{
	Name: "components", Title: "Device time by component",
	Key: "component", KeyLabel: "Component",
	Count: "components", CountLabel: "Components",
	Chart: "Device op time by component",

	Order:       30,
	Description: "Device op time by component (matmul, attention, collectives, data movement, control flow, ...), from ordered bucketing rules.",
}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info { return breakdown.Info() }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rules, source, err := Rules(in.Options[RulesOption])
	if err != nil {
		return nil, fmt.Errorf("components: read the %q option: %w", RulesOption, err)
	}
	return breakdown.Analyze(ctx, in.Capture, rules.Component, func([]ops.Group[string], int64) []string {
		return []string{"Ops are bucketed with " + source + "; the first rule that matches an op's operation name, type, category or kernel wins. Change them with fleetprof analyze --rules FILE, or --rules seed for the seed report's components."}
	})
}

// Rules returns the rules an option value asks for, and words for people
// saying which they are: bucket.Default() for "", a built-in set by name
// ("default", "seed"), else the value parsed as a rules document. Errors
// wrap bucket.ErrInvalid.
func Rules(option string) (rules *bucket.Rules, source string, err error) {
	switch {
	case option == "":
		return bucket.Default(), "the default rules (fleetprof's components by kind of work)", nil
	case bucket.IsBuiltin(option):
		rules, err := bucket.Lookup(option)
		if err != nil {
			return nil, "", err
		}
		if option == bucket.SeedSet {
			return rules, "the built-in seed rules (the seed report's components)", nil
		}
		return rules, fmt.Sprintf("the built-in %s rules", option), nil
	}
	rules, err = bucket.Parse([]byte(option))
	if err != nil {
		return nil, "", err
	}
	return rules, fmt.Sprintf("the rules given (%d rules)", len(rules.Rules)), nil
}
