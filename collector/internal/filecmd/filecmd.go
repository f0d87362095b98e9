// Package filecmd is the fleetprof commands that read capture files on
// their own — inspect and trim — and what every command of the CLI shares:
// its environment, the escaping of what it prints, usage errors and the
// formats of its figures.
//
// It links nothing of the collector's client, the plugin host or the
// collector's own packages: the fleetprof binary runs these two commands
// itself and hands every other one to fleetprof-cli (package cli, which
// adds its commands to this root), so that trimming a capture does not pay
// for starting the whole CLI (BENCHMARKS.md, "A lighter fleetprof").
package filecmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes of every fleetprof command.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// ErrUsage marks errors in how a command was called; they exit with
// ExitUsage.
var ErrUsage = errors.New("usage")

// Env is what every command shares.
type Env struct {
	// Stdout and Stderr are the escaping writers (newEscapeWriter) of the
	// process's.
	Stdout, Stderr io.Writer
	// Logger logs to Stderr, at debug level with --verbose.
	Logger *slog.Logger
	// Verbose is --verbose.
	Verbose bool
	// heapOnce advises the heap's huge pages before the first capture is
	// read (LoadCapture).
	heapOnce sync.Once
}

// Handles reports whether args (the command line after the program's name)
// call one of this package's commands with flags it knows: the fleetprof
// binary runs those itself and hands every other command line to the whole
// CLI, which also takes the collector's flags (--collector, --token, ...)
// after any command, and says what is wrong with the rest.
func Handles(args []string) bool {
	if len(args) == 0 || (args[0] != "inspect" && args[0] != "trim") {
		return false
	}
	root := NewRoot(&Env{Stdout: io.Discard, Stderr: io.Discard}, nil)
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		return false
	}
	err = cmd.ParseFlags(rest)
	return err == nil || errors.Is(err, pflag.ErrHelp)
}

// Main runs the command line with args and returns the exit code. add, when
// given, adds more commands to the root (package cli adds the rest of the
// CLI).
//
// Everything printed goes through the CLI's one escaping function (see
// Escape): stdout whole, stderr but for carriage returns (progress lines),
// and text from agents or the collector on stderr in full.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, add func(*Env, *cobra.Command)) int {
	out, errw := newEscapeWriter(stdout, false), newEscapeWriter(stderr, true)
	defer out.Flush()
	defer errw.Flush()
	e := &Env{Stdout: out, Stderr: errw}
	root := NewRoot(e, add)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errw)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(errw, "fleetprof: %s\n", Escape(err.Error()))
	// cobra's error for a command it does not know has no type of its own.
	if errors.Is(err, ErrUsage) || strings.HasPrefix(err.Error(), "unknown command ") {
		return ExitUsage
	}
	return ExitError
}

// NewRoot returns the command tree: the root, inspect and trim, and what
// add, when given, adds.
func NewRoot(e *Env, add func(*Env, *cobra.Command)) *cobra.Command {
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
			if e.Verbose {
				level = slog.LevelDebug
			}
			e.Logger = slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().BoolVarP(&e.Verbose, "verbose", "v", false, "log debug details to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v (see '%s --help')", ErrUsage, err, c.CommandPath())
	})
	root.AddCommand(newInspect(e), newTrim(e))
	if add != nil {
		add(e, root)
	}
	return root
}

// UsageArgs accepts exactly n arguments, or says how the command is called.
func UsageArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%w: %s takes %d argument(s), got %d (see '%s --help')", ErrUsage, cmd.Name(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}
