// Command fleetprof-simserver is a simulated sglang-jax server for tests and
// demos: the real HTTP API (health, info, /v1/score, /generate, profiling)
// and, with --profiler-port, the JAX profiler's gRPC service. While
// profiling it writes realistic run folders whose device bursts follow the
// requests it served. A real deployment never needs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/fleetprof/fleetprof/integration/internal/simserver"
	"github.com/fleetprof/fleetprof/plugins/flagusage"
)

func main() {
	var cfg simserver.Config
	fs := flagusage.NewFlagSet("fleetprof-simserver", "fleetprof-simserver is a simulated sglang-jax server for demos and tests: the HTTP API\n"+
		"(/health, /v1/score, /generate, /start_profile, /stop_profile) and, with --profiler-port, the\n"+
		"JAX profiler gRPC service; its profiles are real XPlane and trace JSON files.\n\nFlags:\n", os.Stderr)
	fs.StringVar(&cfg.Host, "host", "127.0.0.1", "HTTP listen host")
	fs.Func("port", "HTTP listen port; 0 picks a free one (see --addr-file) (default 30000)", portFlag("port", &cfg.Port))
	fs.StringVar(&cfg.ModelPath, "model-path", "Qwen/Qwen3-0.6B", "model the server claims to serve")
	fs.StringVar(&cfg.APIKey, "api-key", "", "require Authorization: Bearer <key> (except /health* and /metrics*)")
	fs.StringVar(&cfg.Hostname, "hostname", "", "host name used in profile file names (default: the OS host name)")
	fs.IntVar(&cfg.Devices, "devices", 1, "number of simulated TPU devices")
	fs.DurationVar(&cfg.StartupDelay, "startup-delay", 0, "time before /health answers 200")
	fs.IntVar(&cfg.CrashAfter, "crash-after", 0, "exit with status 1 after serving N requests (0: never)")
	fs.StringVar(&cfg.DeviceTracer, "device-tracer", simserver.DeviceTracerPatched,
		`"patched": honour device_tracer_level; "ignored": like unpatched sglang-jax, no device plane`)
	fs.StringVar(&cfg.AutoStop, "auto-stop", simserver.AutoStopEager,
		`when a num_steps profile stops: "eager" after its last step, "next-step" when the next step begins (as sglang-jax)`)
	fs.BoolVar(&cfg.EmptyXPlane, "empty-xplane", false,
		"write 0-byte .xplane.pb files while reporting success, as sglang-jax does for an XSpace over 2 GB")
	fs.Func("profiler-port", "also serve the JAX profiler gRPC service on 127.0.0.1:P; 0 picks a free one (see --addr-file) (default: not served)", portFlag("profiler-port", &cfg.ProfilerPort))
	fs.StringVar(&cfg.AddrFile, "addr-file", "", `once listening, write the bound addresses to this file as JSON, {"http":"127.0.0.1:30000","profiler":...} (atomically)`)
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed for op order, gaps and scores")
	fs.Func("slowdown", `make matching ops slower, e.g. "attention=1.4" (comma-separated PATTERN=FACTOR; PATTERN is a case-insensitive regexp on the op's name or type)`, func(v string) error {
		sl, err := simserver.ParseSlowdown(v)
		cfg.Slowdown = sl
		return err
	})
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "fleetprof-simserver: --log-level: %v\n", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		cfg.Logger.Error("fleetprof-simserver", "err", err)
		stop()
		os.Exit(1)
	}
}

// portFlag parses a port flag into *port: 0 is simserver.AnyPort (the
// kernel picks one), so that a flag not given keeps the zero value's
// default.
func portFlag(name string, port *int) func(string) error {
	return func(v string) error {
		p, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("--%s %q: %w", name, v, err)
		}
		*port = p
		if p == 0 {
			*port = simserver.AnyPort
		}
		return nil
	}
}

// run serves until ctx is done or the server crashes on purpose.
func run(ctx context.Context, cfg simserver.Config) error {
	s, err := simserver.New(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
