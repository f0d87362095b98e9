// Command fleetprof is fleetprof's command-line interface: offline commands
// on capture files (inspect, trim, analyze) and, with --collector, the fleet's.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetprof/fleetprof/collector/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
