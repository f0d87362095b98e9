// Command categories is the built-in categories analyzer as a fleetprof plugin binary.
package main

import (
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/categories"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func main() { sdk.Serve(categories.Analyzer{}) }
