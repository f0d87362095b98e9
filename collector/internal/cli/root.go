// Package cli implements the fleetprof command line: filecmd's inspect and
// trim, and every other command (analyze, certs, and the collector's).
package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

// env is what every command shares.
type env = filecmd.Env

// Main runs the command line with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return filecmd.Main(ctx, args, stdout, stderr, addCommands)
}

// newRoot returns the whole command tree.
func newRoot(e *env) *cobra.Command { return filecmd.NewRoot(e, addCommands) }

// addCommands adds the commands beyond filecmd's.
func addCommands(e *env, root *cobra.Command) {
	root.AddCommand(newAnalyze(e), newCerts(e))
	addCollectorCommands(e, root)
}
