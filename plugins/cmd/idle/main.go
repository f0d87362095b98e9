// Command idle is the built-in idle analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/idle"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(idle.Analyzer{}) }
