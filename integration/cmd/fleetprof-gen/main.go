// Command fleetprof-gen writes large, realistic profile captures (the shape
// of the seed replica: an sglang-jax scheduler on the host, TPU ops in a few
// bursts) for benchmarks and tests, with a truth.json beside them.
//
//	fleetprof-gen -o bench-out/big.trace.json.gz -o bench-out/big.xplane.pb
//	fleetprof-gen -events 50000 -devices 2 -seed 7 -o /tmp/small.trace.json
//
// The format follows each output's name: .trace.json (or .json), .trace.json.gz
// (or .json.gz), .xplane.pb. Every output of a run holds the same events.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/integration/internal/gen"
	"github.com/fleetprof/fleetprof/plugins/flagusage"
)

// Config is what the flags say.
type Config struct {
	// Gen shapes the capture.
	Gen gen.Config
	// Outputs are the files to write.
	Outputs []string
	// Truth is where truth.json goes; empty means beside each output.
	Truth string
	// GzipLevel is the gzip level of .gz outputs (compress/gzip, whose
	// level 6 compresses like zlib's, which the profiler uses).
	GzipLevel int
	// Quiet drops the progress lines.
	Quiet bool
}

func main() {
	var cfg Config
	fs := flagusage.NewFlagSet("fleetprof-gen", "usage: fleetprof-gen -o OUT [-o OUT2] [-events N] [-seed S] [-devices D] [-bursts B]\n\n"+
		"Writes a generated capture to each OUT (.trace.json, .trace.json.gz or .xplane.pb,\n"+
		"the same events in each) and its truth.json beside them.\n\n", os.Stderr)
	fs.Func("o", "output file; repeat for several formats of the same capture", func(s string) error {
		cfg.Outputs = append(cfg.Outputs, s)
		return nil
	})
	fs.Int64Var(&cfg.Gen.Events, "events", gen.DefaultEvents, "number of X events")
	fs.Int64Var(&cfg.Gen.Seed, "seed", 1, "random seed: the same seed gives the same bytes")
	fs.IntVar(&cfg.Gen.Devices, "devices", gen.DefaultDevices, "number of TPU devices")
	fs.IntVar(&cfg.Gen.Bursts, "bursts", gen.DefaultBursts, "number of busy stretches")
	fs.IntVar(&cfg.Gen.Steps, "steps", 0, "steps per burst (0: about 3% of the events on the devices)")
	order := fs.String("order", gen.DevicesFirst.String(), "JSON event order: devices-first (as the TSL converter), host-first, shuffled (holds every event in memory)")
	fs.StringVar(&cfg.Truth, "truth", "", "truth.json path (default: truth.json beside each output)")
	fs.IntVar(&cfg.GzipLevel, "gzip-level", 6, "gzip level for .gz outputs (1-9; 6 is zlib's and the profiler's default)")
	fs.Int64Var(&cfg.Gen.StartNS, "start-ns", gen.DefaultStartNS, "capture start, epoch nanoseconds")
	fs.BoolVar(&cfg.Quiet, "q", false, "quiet: no progress on stderr")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	var err error
	if cfg.Gen.Order, err = gen.ParseOrder(*order); err != nil {
		fmt.Fprintln(os.Stderr, "fleetprof-gen:", err)
		os.Exit(2)
	}
	if len(cfg.Outputs) == 0 || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	level := slog.LevelInfo
	if cfg.Quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err = run(ctx, cfg, logger)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetprof-gen:", err)
		os.Exit(1)
	}
}

// writer writes a capture in one format.
type writer func(c *gen.Capture, w io.Writer) error

// writerFor picks the format from an output's name.
func writerFor(path string, gzipLevel int) (writer, error) {
	switch {
	case strings.HasSuffix(path, ".xplane.pb"):
		return (*gen.Capture).WriteXSpace, nil
	case strings.HasSuffix(path, ".json.gz"):
		return func(c *gen.Capture, w io.Writer) error {
			// The compressor writes a few hundred bytes at a time.
			out := bufio.NewWriterSize(w, 256<<10)
			zw, err := gzip.NewWriterLevel(out, gzipLevel)
			if err != nil {
				return fmt.Errorf("gzip: %w", err)
			}
			if err := c.WriteJSON(zw); err != nil {
				return err
			}
			if err := zw.Close(); err != nil {
				return err
			}
			return out.Flush()
		}, nil
	case strings.HasSuffix(path, ".json"):
		return (*gen.Capture).WriteJSON, nil
	}
	return nil, fmt.Errorf("%s: unknown format: name it .trace.json, .trace.json.gz or .xplane.pb", path)
}

func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	writers := make([]writer, len(cfg.Outputs))
	for i, o := range cfg.Outputs {
		w, err := writerFor(o, cfg.GzipLevel)
		if err != nil {
			return err
		}
		writers[i] = w
	}
	c, err := gen.New(cfg.Gen)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, o := range cfg.Outputs {
		g.Go(func() error { return writeFile(gctx, o, func(w io.Writer) error { return writers[i](c, w) }, logger) })
	}
	var truth *gen.Truth
	g.Go(func() error {
		var err error
		truth, err = c.Truth()
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	paths := []string{cfg.Truth}
	if cfg.Truth == "" {
		paths = paths[:0]
		seen := map[string]bool{}
		for _, o := range cfg.Outputs {
			p := filepath.Join(filepath.Dir(o), "truth.json")
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	for _, p := range paths {
		if err := writeFile(ctx, p, truth.WriteJSON, logger); err != nil {
			return err
		}
	}
	logger.Info("capture", "events", truth.EventsTotal, "device_op_events", truth.DeviceOpEvents,
		"events_kept", truth.EventsKept, "windows", len(truth.Windows), "span_us", truth.SpanUS.String())
	return nil
}

// writeFile writes path through a temporary file renamed into place.
func writeFile(ctx context.Context, path string, write func(io.Writer) error, logger *slog.Logger) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(ctxWriter{ctx, f}); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if st, err := os.Stat(path); err == nil {
		logger.Info("wrote", "path", path, "bytes", st.Size(), "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	}
	return nil
}

// ctxWriter stops writing once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
