// Command fleetprof-cli is the whole fleetprof command line: the offline
// commands on capture files (inspect, trim, analyze) and, with --collector,
// the fleet's. The fleetprof binary runs inspect and trim itself and this
// one for everything else; run on its own it does all of them.
package main

import (
	"context"
	"os"

	"github.com/fleetprof/fleetprof/collector/internal/cli"
	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

func main() {
	os.Exit(filecmd.Process(func(ctx context.Context) int {
		return cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}))
}
