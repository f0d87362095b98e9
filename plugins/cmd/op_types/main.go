// Command op_types is the built-in op_types analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/optypes"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(optypes.Analyzer{}) }
