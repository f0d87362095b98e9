// Command roofline is the built-in roofline analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/roofline"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(roofline.Analyzer{}) }
