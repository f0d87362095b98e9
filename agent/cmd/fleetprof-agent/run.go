package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/agent/internal/agent"
	"github.com/fleetprof/fleetprof/agent/internal/backend"
	"github.com/fleetprof/fleetprof/agent/internal/hostinfo"
	"github.com/fleetprof/fleetprof/agent/internal/metrics"
	"github.com/fleetprof/fleetprof/agent/internal/sglang"
	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/supervise"
	"github.com/fleetprof/fleetprof/agent/internal/uplink"
	"github.com/fleetprof/fleetprof/agent/internal/workload"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
	"github.com/fleetprof/fleetprof/plugins/transport"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// defaultWorkDir holds raw output and the spool in daemon mode.
const defaultWorkDir = "/var/lib/fleetprof-agent"

func run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if cfg.Mode == "capture" {
		return runCapture(ctx, cfg, log)
	}
	return runDaemon(ctx, cfg, log)
}

// server is the model server and the ways to profile it.
type server struct {
	client   *sglang.Client
	backends map[string]backend.Backend
	sup      *supervise.Supervisor
	close    func()
}

func newServer(cfg *Config, log *slog.Logger, m *metrics.Metrics) (*server, error) {
	s := &server{backends: map[string]backend.Backend{}, close: func() {}}
	if cfg.Attach != "" {
		c, err := sglang.New(cfg.Attach, sglang.Options{APIKey: cfg.APIKey})
		if err != nil {
			return nil, err
		}
		s.client = c
		s.backends["http"] = backend.NewHTTP(c, backend.HTTPOptions{Logger: log})
	}
	if cfg.ProfilerAddr != "" {
		g, err := backend.NewGRPC(cfg.ProfilerAddr, backend.GRPCOptions{Logger: log})
		if err != nil {
			return nil, err
		}
		s.backends["grpc"] = g
		s.close = func() { g.Close() }
	}
	if len(cfg.Wrap) > 0 {
		sup, err := supervise.New(supervise.Options{
			Command: cfg.Wrap, Grace: cfg.Grace, MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff,
			Logger: log, OnRestart: m.Restart,
		})
		if err != nil {
			return nil, err
		}
		s.sup = sup
	}
	return s, nil
}

func (s *server) logTail() agent.LogTail {
	if s.sup == nil {
		return nil
	}
	return s.sup
}

// health polls GET /health and remembers the answer.
// health is the model server's health, polled; changed receives (without
// blocking) when it changes, so a heartbeat tells the collector at once.
type health struct {
	ok      atomic.Bool
	changed chan struct{}
}

func newHealth() *health { return &health{changed: make(chan struct{}, 1)} }

// check asks the server once and records the answer.
func (h *health) check(ctx context.Context, c *sglang.Client, log *slog.Logger) {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := c.Health(hctx)
	cancel()
	if ok := err == nil; ok != h.ok.Load() {
		h.ok.Store(ok)
		select {
		case h.changed <- struct{}{}:
		default:
		}
		if ok {
			log.Info("model server healthy", "url", c.URL())
		} else if ctx.Err() == nil {
			log.Warn("model server not healthy", "url", c.URL(), "err", err)
		}
	}
}

func (h *health) run(ctx context.Context, c *sglang.Client, log *slog.Logger) error {
	if c == nil {
		return nil
	}
	for {
		h.check(ctx, c, log)
		// Poll fast until healthy (model loading), then every 5s.
		next := 500 * time.Millisecond
		if h.ok.Load() {
			next = 5 * time.Second
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// dataDirs returns the daemon's work folder (raw profiler output under
// WORK/raw) and spool: --work-dir and --spool; without --work-dir, the
// folder holding --spool (raw output stays beside the agent's own data),
// else /var/lib/fleetprof-agent; without --spool, WORK/spool.
func dataDirs(cfg *Config) (work, spoolDir string) {
	work, spoolDir = cfg.WorkDir, cfg.SpoolDir
	switch {
	case work != "":
	case spoolDir != "":
		work = filepath.Dir(filepath.Clean(spoolDir))
	default:
		work = defaultWorkDir
	}
	if spoolDir == "" {
		spoolDir = filepath.Join(work, "spool")
	}
	return work, spoolDir
}

func runDaemon(ctx context.Context, cfg *Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	work, spoolDir := dataDirs(cfg)
	var up *uplink.Client
	sp, err := spool.Open(spoolDir, spool.Options{MaxBytes: cfg.SpoolMax, Logger: log, OnSize: m.Spool,
		OnDrop: func(d spool.Meta) {
			m.Dropped()
			if up != nil {
				up.Progress(&agentv1.CaptureProgress{CaptureId: d.CaptureID, State: agentv1.CaptureState_CAPTURE_STATE_FAILED,
					Message: "dropped from the agent's full spool before it was uploaded (raise --spool-max-bytes)"})
			}
		}})
	if err != nil {
		return err
	}
	tlsConf, err := clientTLS(cfg)
	if err != nil {
		return err
	}
	if tlsConf == nil {
		log.Warn("INSECURE: talking to the collector in plaintext without authentication (--insecure); use only for local tests",
			"collector", cfg.Collector)
	}
	srv, err := newServer(cfg, log, m)
	if err != nil {
		return err
	}
	defer srv.close()
	info, labels := describeHost(ctx, cfg)
	defaults, err := specFromConfig(cfg)
	if err != nil {
		return err
	}
	defaults.ID, defaults.Trigger = "", ""

	ag, err := agent.New(agent.Options{
		ID: cfg.ID, Version: version, WorkDir: work, Server: srv.client, Backends: srv.backends,
		DefaultBackend: cfg.Capture.Backend, Spool: sp, Labels: labels, Host: info, Log: srv.logTail(),
		Progress: func(p *agentv1.CaptureProgress) { up.Progress(p) }, Metrics: m, Logger: log, Defaults: defaults,
	})
	if err != nil {
		return err
	}
	// The server's health is known before the agent registers, and each
	// change is sent at once (BeatNow): agents is not shown "down" for a
	// heartbeat interval after registering.
	h := newHealth()
	if srv.client != nil {
		h.check(ctx, srv.client, log)
	}
	up, err = uplink.New(uplink.Options{
		Addr: cfg.Collector, TLS: tlsConf, AgentID: cfg.ID,
		Register: func() *agentv1.Register { return ag.Register(ctx) },
		Heartbeat: func() *agentv1.Heartbeat {
			hb := &agentv1.Heartbeat{ServerHealthy: h.ok.Load()}
			if srv.sup != nil {
				hb.ServerRestarts = srv.sup.Restarts()
			}
			return hb
		},
		BeatNow: h.changed,
		Handler: ag, Spool: sp, OnCommitted: ag.Committed, OnRejected: ag.Rejected, Metrics: m, Logger: log, MaxBackoff: cfg.ReconnectMax,
		UploadPause: cfg.UploadPause,
	})
	if err != nil {
		return err
	}

	var lis net.Listener
	addrs := map[string]string{}
	if cfg.HTTPAddr != "" {
		if lis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listen --http %s: %w", cfg.HTTPAddr, err)
		}
		addrs["http"] = lis.Addr().String()
	}
	log.Info("fleetprof-agent starting", "id", cfg.ID, "version", version, "collector", cfg.Collector,
		"backends", ag.BackendNames(), "spool", spoolDir, "pending", len(sp.IDs()), "http", addrs["http"])
	if cfg.AddrFile != "" {
		if err := transport.WriteAddrFile(cfg.AddrFile, addrs); err != nil {
			if lis != nil {
				lis.Close()
			}
			return err
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	if srv.sup != nil {
		g.Go(func() error { return srv.sup.Run(gctx) })
	}
	g.Go(func() error { return h.run(gctx, srv.client, log) })
	g.Go(func() error { return ag.Run(gctx) })
	g.Go(func() error { return up.Run(gctx) })
	if lis != nil {
		g.Go(func() error { return serveHTTP(gctx, lis, reg, h, sp) })
	}
	err = g.Wait()
	log.Info("fleetprof-agent stopped", "pending", len(sp.IDs()))
	return err
}

// serveHTTP serves /metrics and /healthz until ctx is done.
func serveHTTP(ctx context.Context, lis net.Listener, reg *prometheus.Registry, h *health, sp *spool.Spool) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","server_healthy":%t,"spool_bytes":%d,"pending":%d}`+"\n",
			h.ok.Load(), sp.Size(), len(sp.IDs()))
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	if err := transport.ServeHTTP(ctx, hs, lis); err != nil {
		return fmt.Errorf("serve --http: %w", err)
	}
	return nil
}

// clientTLS builds the TLS config for the collector; nil means --insecure.
func clientTLS(cfg *Config) (*tls.Config, error) {
	if cfg.Insecure {
		return nil, nil
	}
	tc, err := transport.ClientTLS(transport.TLSFiles{CA: cfg.TLSCA, Cert: cfg.TLSCert, Key: cfg.TLSKey}, cfg.TLSServer)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca/--tls-cert/--tls-key: %w", err)
	}
	if len(tc.Certificates) > 0 {
		leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		id, err := ids.AgentOf(leaf) // as the collector reads it
		if err != nil {
			return nil, fmt.Errorf("%w: --tls-cert %s: %w", errUsage, cfg.TLSCert, err)
		}
		switch {
		case id == cfg.ID:
		case cfg.idSet:
			return nil, fmt.Errorf("%w: --id %q, but --tls-cert %s is agent %q's certificate: the collector refuses an agent acting as another; drop --id or fix it", errUsage, cfg.ID, cfg.TLSCert, id)
		default:
			cfg.ID = id
		}
	}
	return tc, nil
}

// specFromConfig turns the capture options into a Spec.
func specFromConfig(cfg *Config) (agent.Spec, error) {
	o := cfg.Capture
	level := func(v int) *int32 {
		if v == captureopt.Unset {
			return nil
		}
		x := int32(v)
		return &x
	}
	s := agent.Spec{
		Trigger: "standalone", Backend: o.Backend, Duration: o.Duration, NumSteps: o.Steps,
		HostTracerLevel: level(o.HostTracerLevel), DeviceTracerLevel: level(o.DeviceTracerLevel),
		PythonTracerLevel: level(o.PythonTracerLevel),
		Gap:               o.Gap.Nanoseconds() * 1000, Pad: o.Pad.Nanoseconds() * 1000, KeepRaw: o.KeepRaw,
	}
	body, err := o.ReadBody(workload.MaxBodyBytes)
	if err != nil || body == nil {
		return s, err
	}
	s.Workload = &workload.Spec{Endpoint: o.WorkloadEndpoint, Method: o.WorkloadMethod, Body: body,
		Warmups: o.Warmups, Requests: o.Requests, Concurrency: o.Concurrency, Rate: o.Rate}
	return s, s.Workload.Validate()
}

// describeHost collects what the agent says of its host (named --host, when
// given) and its labels: the host's, with cfg.Labels (--label, then the
// policy file's) over them.
func describeHost(ctx context.Context, cfg *Config) (hostinfo.Info, map[string]string) {
	info := hostinfo.Collect(ctx, hostinfo.Options{MetadataURL: cfg.MetadataURL})
	if cfg.Host != "" {
		info.Host = cfg.Host
	}
	labels := info.Labels()
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	return info, labels
}
