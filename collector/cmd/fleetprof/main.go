// Command fleetprof is fleetprof's command-line interface: offline commands
// on capture files (inspect, trim, analyze) and, with --collector, the fleet's.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/fleetprof/fleetprof/collector/internal/cli"
)

// memoryLimit is the soft heap limit of one fleetprof command unless
// GOMEMLIMIT says otherwise: trimming keeps only what it must, and a tight
// limit makes the collector of garbage keep the process small.
const memoryLimit = 100 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
