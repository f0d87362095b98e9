// Command fleetprof is fleetprof's command-line interface: offline commands
// on capture files (inspect, trim, analyze) and, with --collector, the
// fleet's.
//
// This binary holds only inspect and trim, which read capture files on
// their own, so that they start in milliseconds; every other command line
// runs fleetprof-cli, the whole CLI, found beside this binary or on PATH
// (BENCHMARKS.md, "A lighter fleetprof").
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/sibling"
)

// cliName is the binary that runs every command but inspect and trim.
const cliName = "fleetprof-cli"

func main() {
	args := os.Args[1:]
	if !filecmd.Handles(args) {
		os.Exit(runCLI(args))
	}
	os.Exit(filecmd.Process(func(ctx context.Context) int {
		return filecmd.Main(ctx, args, os.Stdout, os.Stderr, nil)
	}))
}

// runCLI runs fleetprof-cli with args in place of this process (where the
// system allows; otherwise as a child whose exit code it returns).
func runCLI(args []string) int {
	path, err := sibling.Find(cliName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleetprof: %v: fleetprof runs inspect and trim itself and every other command through %s; install both (make build puts them in bin/)\n", err, cliName)
		return filecmd.ExitError
	}
	return execCLI(path, args)
}
