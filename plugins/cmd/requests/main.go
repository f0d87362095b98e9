// Command requests is the built-in requests analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/requests"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(requests.Analyzer{}) }
