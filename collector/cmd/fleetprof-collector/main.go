// Command fleetprof-collector is the fleet's collector: it knows every
// agent, starts captures on many hosts at once, keeps every capture in
// bbolt, analyzes each as it lands and answers the fleetprof CLI.
//
// `fleetprof-collector restore` rebuilds a data folder from a database
// snapshot in GCS; `fleetprof-collector token create` makes the first admin
// token on a stopped collector's data folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/server"

	"github.com/fleetprof/fleetprof/plugins/flagusage"
	"github.com/fleetprof/fleetprof/plugins/size"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "restore" {
		os.Exit(restoreMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := checkMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if len(os.Args) > 1 && os.Args[1] == "token" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := tokenMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	cfg, level, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleetprof-collector: %v\n", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg)
	stop()
	if err != nil {
		cfg.Logger.Error("collector failed", "error", err)
		os.Exit(1)
	}
}

// parseFlags parses the command line into a server.Config.
func parseFlags(args []string, stderr io.Writer) (server.Config, slog.Level, error) {
	var cfg server.Config
	var level slog.Level
	fs := flagusage.NewFlagSet("fleetprof-collector", "Usage: fleetprof-collector --data DIR [flags]\n"+
		"       fleetprof-collector restore --gcs-bucket BUCKET --data DIR [flags]\n"+
		"       fleetprof-collector token create|list|revoke --data DIR [flags]   (on a stopped collector)\n"+
		"       fleetprof-collector check --data DIR [--timeout D]   (on a stopped collector)\n\n", stderr)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:7070", "gRPC address for agents and the CLI")
	fs.StringVar(&cfg.APIListen, "api-listen", "", "separate gRPC address for people and tools (the API); --listen then serves only agents and requires their certificates in the TLS handshake (default: both on --listen)")
	fs.StringVar(&cfg.HTTP, "http", "127.0.0.1:7071", "HTTP address for /metrics, /healthz and the web UI (- disables)")
	fs.StringVar(&cfg.AddrFile, "addr-file", "", `once listening, write the bound addresses to this file as JSON, {"grpc":"127.0.0.1:7070","api":...,"http":...} (atomically; port 0 in --listen, --api-listen or --http picks a free port, read back here)`)
	fs.StringVar(&cfg.DataDir, "data", "", "folder for the bbolt file (fleetprof.db) and state (required)")
	fs.StringVar(&cfg.PluginsDir, "plugins", defaultPlugins(), "folder of analyzer plugin binaries with their plugins.sha256 allowlist")
	fs.StringVar(&cfg.RulesFile, "rules", "", "component bucketing rules for reports and diff: a built-in set (default, seed) or a rules file, YAML or JSON (default: the built-in default set)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "server TLS certificate (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "server TLS key (PEM)")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", "", "CA bundle (PEM) that signs agent and client certificates: agents must present one (mTLS)")
	fs.BoolVar(&cfg.PublicUI, "public-ui", false, "serve the web UI on a non-loopback --http address (plain HTTP: put a TLS proxy in front; tokens are required)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "development only, loopback addresses only: plain-text gRPC, agents unauthenticated, and loopback callers are admins while no token exists")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 30*time.Second, "time limit of each unary API call")
	fs.DurationVar(&cfg.LongRequestTimeout, "analyze-timeout", 10*time.Minute, "time limit of an Analyze call")
	fs.IntVar(&cfg.MaxUploads, "max-uploads", 256, "agent uploads served at once; more are told to retry")
	fs.IntVar(&cfg.MaxUploadsPerAgent, "max-uploads-per-agent", 4, "upload streams one agent (certificate) holds at once; more are told to retry")
	fs.DurationVar(&cfg.UploadStartTimeout, "upload-start-timeout", 10*time.Second, "an upload stream that sends no UploadStart within this is closed")
	fs.DurationVar(&cfg.UploadIdleTimeout, "upload-idle-timeout", time.Minute, "an upload stream that sends nothing for this long is closed (the agent resumes)")
	fs.IntVar(&cfg.MaxFleetCaptures, "max-fleet-captures", 16, "fleet captures running at once; more are refused")
	fs.Func("upload-rate", "largest upload rate per agent, bytes per second, e.g. 32MiB (default: no limit)", func(v string) error {
		n, err := size.Parse(v)
		cfg.UploadRate = float64(n)
		return err
	})
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 5*time.Second, "heartbeat interval agents are told to use")
	fs.Int64Var(&cfg.MaxCaptureBytes, "max-capture-bytes", 256<<20, "largest capture accepted, in bytes")
	fs.IntVar(&cfg.AnalysisWorkers, "analysis-workers", 1, "captures analyzed at once")
	fs.DurationVar(&cfg.PluginTimeout, "plugin-timeout", 2*time.Minute, "time limit of one analyzer run")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "time allowed for in-flight uploads on shutdown")
	checkTimeout := server.DefaultCheckTimeout
	fs.DurationVar(&checkTimeout, "check-timeout", server.DefaultCheckTimeout, "time limit of the database check at start (bbolt's consistency check); a damaged database is refused (0 skips the check)")
	fs.BoolVar(&cfg.NewStore, "new-store", false, "start with an empty database even though the database file is missing or empty and the GCS backup holds data (refused otherwise: restore first)")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	lifecycle := addLifecycleFlags(fs, &cfg)
	insight := addInsightFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, level, err
	}
	if fs.NArg() > 0 {
		return cfg, level, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.DataDir == "" {
		return cfg, level, errors.New("--data is required")
	}
	if cfg.MaxCaptureBytes <= 0 || cfg.MaxUploads <= 0 || cfg.MaxFleetCaptures <= 0 || cfg.RequestTimeout <= 0 || cfg.LongRequestTimeout <= 0 {
		return cfg, level, errors.New("--max-capture-bytes, --max-uploads, --max-fleet-captures, --request-timeout and --analyze-timeout must be positive")
	}
	if cfg.MaxUploadsPerAgent <= 0 || cfg.UploadStartTimeout <= 0 || cfg.UploadIdleTimeout <= 0 {
		return cfg, level, errors.New("--max-uploads-per-agent, --upload-start-timeout and --upload-idle-timeout must be positive")
	}
	if err := lifecycle(); err != nil {
		return cfg, level, err
	}
	switch {
	case checkTimeout < 0:
		return cfg, level, errors.New("--check-timeout must not be negative")
	case checkTimeout == 0:
		cfg.CheckTimeout = -1
	default:
		cfg.CheckTimeout = checkTimeout
	}
	if err := insight(); err != nil {
		return cfg, level, err
	}
	return cfg, level, nil
}

// defaultPlugins is bin/plugins beside the binary.
func defaultPlugins() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugins"
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}

// run runs the collector until ctx ends.
func run(ctx context.Context, cfg server.Config) error {
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
