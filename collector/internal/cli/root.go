// Package cli implements the fleetprof command line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks errors in how the command was called.
var errUsage = errors.New("usage")

// env is what every command shares.
type env struct {
	stdout, stderr io.Writer
	logger         *slog.Logger
	verbose        bool
	// heapOnce advises the heap's huge pages before the first capture is
	// read (loadCapture).
	heapOnce sync.Once
}

// Main runs the command line with args and returns the exit code.
//
// Everything printed goes through the CLI's one escaping function (see
// escape): stdout whole, stderr but for carriage returns (progress lines),
// and text from agents or the collector on stderr in full.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out, errw := newEscapeWriter(stdout, false), newEscapeWriter(stderr, true)
	defer out.Flush()
	defer errw.Flush()
	e := &env{stdout: out, stderr: errw}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errw)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(errw, "fleetprof: %s\n", escape(err.Error()))
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitError
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "fleetprof",
		Short: "Profile ML inference fleets: read, trim and analyze profiler captures",
		Long: `fleetprof reads what the JAX/XLA profiler writes (.xplane.pb, .trace.json.gz,
perfetto_trace.json.gz, run folders plugins/profile/<run>/), cuts each capture
down to the stretches where a device was busy (the non-idle windows), and
analyzes what is left.

Offline, on files:
  fleetprof inspect PATH            what is in a capture: span, devices, windows
  fleetprof trim PATH -o OUT        write only the non-idle windows
  fleetprof analyze PATH -o DIR     the report: top ops, op types, components,
                                    idle vs non-idle, host events

PATH is a capture file, a run folder, or a profile root holding run folders
(the newest is taken; --run picks another).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if e.verbose {
				level = slog.LevelDebug
			}
			e.logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().BoolVarP(&e.verbose, "verbose", "v", false, "log debug details to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v (see '%s --help')", errUsage, err, c.CommandPath())
	})
	root.AddCommand(newInspect(e), newTrim(e), newAnalyze(e), newCerts(e))
	addCollectorCommands(e, root)
	return root
}

func usageArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%w: %s takes %d argument(s), got %d (see '%s --help')", errUsage, cmd.Name(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}
