// Command components is the built-in components analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/components"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(components.Analyzer{}) }
