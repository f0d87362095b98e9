// Command host_events is the built-in host_events analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/hostevents"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(hostevents.Analyzer{}) }
