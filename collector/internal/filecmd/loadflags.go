package filecmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/hugeheap"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// LoadFlags are the flags of every command that reads a capture.
type LoadFlags struct {
	gap, pad time.Duration
	run      string
	host     string
	tmp      string
	quiet    bool
}

// Host is --host.
func (f *LoadFlags) Host() string { return f.host }

// Register adds the flags to cmd.
func (f *LoadFlags) Register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.DurationVar(&f.gap, "gap", time.Millisecond, "merge busy stretches closer than this into one window (e.g. 1ms, 500us)")
	fs.DurationVar(&f.pad, "pad", 100*time.Microsecond, "widen each window by this on both sides")
	fs.StringVar(&f.run, "run", "", "run folder to read when PATH is a profile root (default: the newest)")
	fs.StringVar(&f.host, "host", "", "host to read when the run folder holds several; \"all\" (or a,b,...) reads each of them")
	fs.StringVar(&f.tmp, "tmp", "", "folder for temporary files (default: $TMPDIR or /tmp)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
}

func (f *LoadFlags) options(e *Env) (load.Options, error) {
	if f.gap < 0 || f.pad < 0 {
		return load.Options{}, fmt.Errorf("%w: --gap and --pad must not be negative", ErrUsage)
	}
	o := load.Options{
		Trim:    trim.Options{Gap: toPS(f.gap), Pad: toPS(f.pad)},
		Run:     f.run,
		Host:    f.host,
		TempDir: f.tmp,
		Logger:  e.Logger,
	}
	return o, nil
}

// toPS converts a flag duration to picoseconds for trim.Options, where zero
// means the default and negative means none.
func toPS(d time.Duration) int64 {
	if d == 0 {
		return -1
	}
	return d.Nanoseconds() * capture.Nanosecond
}

// hugeHeapEnv turns the heap's huge pages off when "0" (for comparing; see
// BENCHMARKS.md, "Huge pages for the heap").
const hugeHeapEnv = "FLEETPROF_HUGEHEAP"

// LoadCapture loads path with progress on stderr once it takes over a
// second.
func (f *LoadFlags) LoadCapture(ctx context.Context, e *Env, path string) (*load.Result, error) {
	o, err := f.options(e)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	shown := false
	tty := isTerminal(e.Stderr)
	lastQuarter := int64(0)
	if !f.quiet {
		o.Progress = func(done, total int64) {
			if time.Since(start) < time.Second || total <= 0 {
				return
			}
			shown = true
			if tty {
				fmt.Fprintf(e.Stderr, "\rreading %s: %3.0f%% (%s of %s)", shortPath(path), 100*float64(done)/float64(total), Human(done), Human(total))
				return
			}
			// Not a terminal (a log, a pipe): a line at each quarter.
			if q := 4 * done / total; q > lastQuarter {
				lastQuarter = q
				fmt.Fprintf(e.Stderr, "reading %s: %d%% (%s of %s)\n", shortPath(path), 25*q, Human(done), Human(total))
			}
		}
	}
	e.heapOnce.Do(func() {
		if os.Getenv(hugeHeapEnv) != "0" {
			hugeheap.Advise(hugeheap.Reserve)
		}
	})
	res, err := load.FileResult(ctx, path, o)
	if shown && tty {
		fmt.Fprintf(e.Stderr, "\rread %s in %.1fs%20s\n", shortPath(path), time.Since(start).Seconds(), "")
	}
	return res, err
}

func shortPath(p string) string {
	if wd, err := os.Getwd(); err == nil && len(p) > len(wd)+1 && p[:len(wd)] == wd {
		return p[len(wd)+1:]
	}
	return p
}

// Human formats a byte count.
func Human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
