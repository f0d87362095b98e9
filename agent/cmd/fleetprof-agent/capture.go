package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/agent"
	"github.com/fleetprof/fleetprof/agent/internal/metrics"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/plugins/sibling"
)

// errNoFleetprof means the fleetprof CLI for the report was not found.
var errNoFleetprof = errors.New("the fleetprof CLI was not found beside fleetprof-agent or on $PATH: give --fleetprof PATH (the capture and trace were written; run \"fleetprof analyze DIR/capture.fpcap -o DIR\" for the report)")

// analyzeTimeout bounds the report.
const analyzeTimeout = 10 * time.Minute

// runCapture takes one capture without a collector and writes it, its
// trace and its report into cfg.Out.
func runCapture(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	work := cfg.WorkDir
	if work == "" {
		work = filepath.Join(cfg.Out, ".raw")
		if !cfg.Capture.KeepRaw {
			defer os.RemoveAll(work)
		}
	}
	spec, err := specFromConfig(cfg)
	if err != nil {
		return err
	}
	spec.ID = agent.NewID()
	m := metrics.New(nil)
	srv, err := newServer(cfg, log, m)
	if err != nil {
		return err
	}
	defer srv.close()

	if srv.sup != nil {
		sctx, stopServer := context.WithCancel(ctx)
		supDone := make(chan error, 1)
		go func() { supDone <- srv.sup.Run(sctx) }()
		defer func() {
			stopServer()
			<-supDone
		}()
		// A server that cannot start at all fails the capture at once.
		select {
		case err := <-supDone:
			supDone <- err
			if err != nil {
				return err
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	if srv.client != nil {
		if err := waitServer(ctx, cfg, log, srv); err != nil {
			return err
		}
	}
	info, labels := describeHost(ctx, cfg)
	ag, err := agent.New(agent.Options{
		ID: cfg.ID, Version: version, WorkDir: work, Server: srv.client, Backends: srv.backends,
		DefaultBackend: cfg.Capture.Backend, Labels: labels, Host: info, Log: srv.logTail(), Metrics: m, Logger: log,
	})
	if err != nil {
		return err
	}
	out, err := ag.Do(ctx, spec)
	if err != nil {
		return err
	}
	c := out.Capture
	for _, name := range out.Checks.Names() {
		log.Warn("integrity check", "check", name, "detail", out.Checks[name])
	}
	fp := filepath.Join(cfg.Out, "capture.fpcap")
	n, err := export.File(fp, c)
	if err != nil {
		return fmt.Errorf("write %s: %w", fp, err)
	}
	tj := filepath.Join(cfg.Out, "trace.json.gz")
	tn, err := export.File(tj, c)
	if err != nil {
		return fmt.Errorf("write %s: %w", tj, err)
	}
	log.Info("capture written", "capture_id", spec.ID, "fpcap", fp, "fpcap_bytes", n, "trace", tj, "trace_bytes", tn,
		"raw_bytes", out.RawBytes, "events", c.EventsTotal, "kept", c.EventsKept(), "windows", len(c.Windows))
	if out.Workload != nil {
		for k, v := range out.Workload.Context() {
			log.Info("workload", "key", k, "value", v)
		}
	}
	return analyze(ctx, cfg, log, fp)
}

// maxStartRestarts is how often a wrapped server may die before it is
// healthy before a standalone capture gives up.
const maxStartRestarts = 3

// waitServer waits for GET /health; a wrapped server that keeps dying
// fails the wait with its last exits and output.
func waitServer(ctx context.Context, cfg *Config, log *slog.Logger, srv *server) error {
	log.Info("waiting for the model server", "url", srv.client.URL(), "timeout", cfg.HealthTimeout.String())
	ctx, cancel := context.WithTimeout(ctx, cfg.HealthTimeout)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		err := srv.client.Health(ctx)
		if err == nil {
			return nil
		}
		if srv.sup != nil && srv.sup.Restarts() >= maxStartRestarts {
			return fmt.Errorf("the model server died %d times before answering /health (exits: %s); its last output:\n%s",
				srv.sup.Restarts(), strings.Join(srv.sup.Exits(), "; "), strings.Join(srv.sup.Tail(20), "\n"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s/health: %w (last: %w)", srv.client.URL(), ctx.Err(), err)
		case <-t.C:
		}
	}
}

// analyze runs "fleetprof analyze CAPTURE -o DIR" as a subprocess.
func analyze(ctx context.Context, cfg *Config, log *slog.Logger, capturePath string) error {
	bin, err := findFleetprof(cfg.Fleetprof)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, analyzeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "analyze", capturePath, "-o", cfg.Out)
	cmd.Stdout = os.Stderr // the agent's stdout stays quiet
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	log.Info("writing the report", "cmd", strings.Join(cmd.Args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s analyze: %w", bin, err)
	}
	return nil
}

// findFleetprof finds the CLI: the flag, beside this binary, then $PATH.
func findFleetprof(flagPath string) (string, error) {
	if flagPath != "" {
		if _, err := os.Stat(flagPath); err != nil {
			return "", fmt.Errorf("--fleetprof: %w", err)
		}
		return flagPath, nil
	}
	p, err := sibling.Find("fleetprof")
	if err != nil {
		return "", errNoFleetprof
	}
	return p, nil
}
