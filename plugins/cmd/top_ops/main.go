// Command top_ops is the built-in top_ops analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/topops"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(topops.Analyzer{}) }
