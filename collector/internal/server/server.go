// Package server wires the collector: the store, the agent registry, ingest,
// fleet captures, analysis and the API, served over gRPC (with the standard
// health service, keepalive enforcement and explicit message size limits)
// and HTTP (/metrics, /healthz, and a mux the web UI hangs off).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/api"
	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/retention"
	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	capwatch "github.com/fleetprof/fleetprof/collector/internal/watch"
	"github.com/fleetprof/fleetprof/collector/internal/web"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/transport"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Errors.
var (
	// ErrInsecure means plain-text gRPC was asked for on a non-loopback address.
	ErrInsecure = errors.New("server: --insecure serves plain text and is allowed only on loopback addresses; give --tls-cert and --tls-key")
	// ErrNoTLS means neither TLS nor --insecure was configured.
	ErrNoTLS = errors.New("server: no TLS configured: give --tls-cert and --tls-key (and --tls-client-ca for agent mTLS), or --insecure on loopback")
)

// Message size limits: a 1 MiB chunk plus framing fits with room to spare.
const (
	// MaxRecvMsgSize bounds each received message.
	MaxRecvMsgSize = 4 << 20
	// MaxSendMsgSize bounds each sent message (reports with their images).
	MaxSendMsgSize = 64 << 20
)

// Config configures the collector. Zero values take the documented defaults.
type Config struct {
	// Listen is the gRPC address. Empty means 127.0.0.1:7070.
	Listen string
	// APIListen, if set, is a separate gRPC address for people and tools
	// (CollectorService, ScheduleService, AdminService): Listen then serves
	// only agents and, with TLSClientCA, requires their certificates in the
	// TLS handshake. Empty serves both on Listen, where client certificates
	// are optional in the handshake and required per call for the agent API.
	APIListen string
	// HTTP is the HTTP address for /metrics, /healthz and the web UI. Empty
	// means 127.0.0.1:7071; "-" disables it.
	HTTP string
	// AddrFile, if set, is where Run writes the bound addresses (grpc, api
	// and, unless disabled, http) before serving, as transport.WriteAddrFile
	// does: with port 0 in the addresses above, the ports the kernel picked.
	AddrFile string
	// DataDir holds the bbolt file and state. Required.
	DataDir string
	// PluginsDir holds the analyzer binaries and their allowlist. Empty or
	// missing means no analyzers.
	PluginsDir string
	// RulesFile is a built-in rules set's name ("default", "seed") or a
	// bucketing rules file for the components analyzer and
	// Diff. Empty means the default rules.
	RulesFile string
	// TLSCert and TLSKey are the server's certificate and key.
	TLSCert, TLSKey string
	// TLSClientCA is the CA bundle that signs agent (and optional client)
	// certificates: a certificate presented is verified against it in the
	// handshake, and the agent API refuses calls without an agent
	// certificate. Without it no agent can connect over TLS.
	TLSClientCA string
	// Insecure serves plain text without authentication; allowed only on
	// loopback. Agents are then not authenticated, and while no API token
	// exists loopback callers are admins (development mode).
	Insecure bool
	// RequestTimeout bounds each unary API call. Zero means 30 s.
	RequestTimeout time.Duration
	// LongRequestTimeout bounds Analyze, which runs the analyzers while the
	// caller waits. Zero means 10 min.
	LongRequestTimeout time.Duration
	// MaxUploads bounds the agents' upload streams served at once. Zero
	// means ingest's default (256).
	MaxUploads int
	// MaxUploadsPerAgent bounds the upload streams one agent identity holds
	// at once. Zero means ingest's default (4).
	MaxUploadsPerAgent int
	// UploadStartTimeout ends an upload stream whose UploadStart does not
	// come within it. Zero means ingest's default (10 s).
	UploadStartTimeout time.Duration
	// UploadIdleTimeout ends an upload stream that sends nothing for this
	// long. Zero means ingest's default (1 min).
	UploadIdleTimeout time.Duration
	// UploadRate bounds each agent's upload in bytes per second. Zero means
	// no limit.
	UploadRate float64
	// MaxFleetCaptures bounds the fleet captures running at once. Zero
	// means fleet's default (16).
	MaxFleetCaptures int
	// HeartbeatInterval is what agents are told. Zero means 5 s.
	HeartbeatInterval time.Duration
	// MaxCaptureBytes bounds one capture. Zero means ingest's default (256 MiB).
	MaxCaptureBytes int64
	// AnalysisWorkers is how many captures are analyzed at once. Zero means 1.
	AnalysisWorkers int
	// PluginTimeout bounds one analyzer run. Zero means pluginhost's default.
	PluginTimeout time.Duration
	// ShutdownTimeout bounds the graceful stop. Zero means 15 s.
	ShutdownTimeout time.Duration
	// PublicUI serves the web UI on an HTTP address that is not loopback.
	// The UI takes the API's tokens (cookie or Authorization header) but
	// the HTTP address is plain text, so by default it is served only on
	// loopback addresses (put a TLS proxy in front to serve it further).
	PublicUI bool
	// NoSync skips fsync: for tests and benchmarks only.
	NoSync bool
	// CheckTimeout bounds the check of the database file at start
	// (bbolt's consistency check and the schema's): a damaged file is
	// refused with the restore command. Zero means DefaultCheckTimeout;
	// negative skips the check.
	CheckTimeout time.Duration
	// NewStore starts an empty database even though the file is missing or
	// empty and the GCS backup holds data (which is refused otherwise).
	NewStore bool
	// Backup configures the GCS backup. The zero value turns it off.
	Backup BackupConfig
	// Retention is the retention policy. No rules keeps every capture.
	Retention retention.Policy
	// Insight configures fleet insights: baselines and the alert webhook.
	// The zero value works.
	Insight InsightConfig
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registry holds the metrics served on /metrics. Nil means a new one.
	Registry *prometheus.Registry
}

// Server is a collector, listening but not yet serving until Run.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *store.DB
	guard    *guard
	reg      *registry.Registry
	fleet    *fleet.Tracker
	sched    *sched.Scheduler
	exp      *experiment.Runner
	analysis *analysis.Analysis
	watch    *capwatch.Watch
	ingest   *ingest.Ingest
	life     *lifecycle
	grpc     *grpc.Server // agents (and the API unless APIListen)
	apiGRPC  *grpc.Server // the API on APIListen, or nil
	health   *health.Server
	probe    *storeProbe
	http     *http.Server
	mux      *http.ServeMux
	lis      net.Listener
	apiLis   net.Listener
	httpLis  net.Listener
}

// New opens the store, finds the plugins and listens on the configured
// addresses. Run serves; if Run is never called, Close releases everything.
func New(cfg Config) (_ *Server, err error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:7070"
	}
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:7071"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.LongRequestTimeout <= 0 {
		cfg.LongRequestTimeout = 10 * time.Minute
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data folder (--data)")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	split := cfg.APIListen != ""
	creds, err := serverCreds(cfg, cfg.Listen, split, log)
	if err != nil {
		return nil, err
	}
	var apiCreds credentials.TransportCredentials
	if split {
		if apiCreds, err = serverCreds(cfg, cfg.APIListen, false, log); err != nil {
			return nil, err
		}
	}
	var rules *bucket.Rules
	var options map[string]string
	if cfg.RulesFile != "" {
		var opt string
		if rules, opt, err = bucket.Resolve(cfg.RulesFile); err != nil {
			return nil, err
		}
		options = map[string]string{"rules": opt}
	}
	var plugins []pluginhost.Plugin
	if cfg.PluginsDir != "" {
		plugins, err = pluginhost.Discover(cfg.PluginsDir)
		if errors.Is(err, os.ErrNotExist) {
			log.Warn("no plugins folder: captures get summaries only", "plugins", cfg.PluginsDir)
			err = nil
		}
		if err != nil {
			return nil, err
		}
		for _, p := range plugins {
			if p.Err != nil {
				log.Warn("plugin refused", "plugin", p.Name, "error", p.Err)
			}
		}
		log.Info("plugins found", "plugins", cfg.PluginsDir, "count", len(plugins))
	}

	if err := checkStore(context.Background(), cfg, log.With("component", "server")); err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, store.FileName), store.Options{NoSync: cfg.NoSync, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	s := &Server{cfg: cfg, log: log.With("component", "server"), db: db}
	dev := cfg.TLSCert == "" && cfg.Insecure
	s.guard = newGuard(db, dev, cfg.RequestTimeout, cfg.LongRequestTimeout, log, cfg.Registry)
	if dev {
		if found, err := auth.Any(context.Background(), db); err == nil && !found {
			log.Warn("INSECURE DEVELOPMENT MODE: no API token exists, so every loopback caller is an admin; create one with 'fleetprof-collector token create' to require tokens")
		}
	}
	s.reg = registry.New(registry.Config{
		Store: db, HeartbeatInterval: cfg.HeartbeatInterval, Identity: agentIdentity,
		Logger: log, Registerer: cfg.Registry,
	})
	s.fleet = fleet.New(fleet.Config{Agents: s.reg, Store: db, MaxRunning: cfg.MaxFleetCaptures, Logger: log, Registerer: cfg.Registry})
	s.reg.SetObserver(s.fleet)
	// Fleet captures running when the collector stopped go on being tracked.
	if _, err := s.fleet.Restore(context.Background()); err != nil {
		return nil, err
	}
	s.exp = experiment.New(experiment.Config{Store: db, Fleet: s.fleet, Logger: log})
	s.sched = sched.New(sched.Config{Store: db, Agents: s.reg, Starter: s.fleet, Experiments: s.exp, Logger: log, Registerer: cfg.Registry})
	if s.watch, err = newWatch(db, cfg.Insight, log, cfg.Registry); err != nil {
		return nil, err
	}
	if s.life, err = newLifecycle(context.Background(), db, cfg.Backup, cfg.Retention, cfg.DataDir, s.watch, log, cfg.Registry); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.life.close()
		}
	}()
	s.analysis = analysis.New(analysis.Config{
		Store: db, Plugins: plugins, Options: options, Workers: cfg.AnalysisWorkers, OnAnalyzed: s.analyzed,
		Host: pluginhost.Config{Timeout: cfg.PluginTimeout, Logger: log}, Logger: log, Registerer: cfg.Registry,
	})
	s.ingest = ingest.New(ingest.Config{
		Store: db, MaxCaptureBytes: cfg.MaxCaptureBytes, MaxUploads: cfg.MaxUploads, UploadRate: cfg.UploadRate,
		MaxUploadsPerAgent: cfg.MaxUploadsPerAgent, StartTimeout: cfg.UploadStartTimeout, IdleTimeout: cfg.UploadIdleTimeout,
		Identity: agentIdentity, Logger: log, Registerer: cfg.Registry,
		OnCommit: func(c *store.Capture) {
			s.fleet.Committed(c)
			s.analysis.Enqueue(c.ID)
		},
	})
	cfg.Registry.MustRegister(&statusCollector{db: db})

	s.grpc = s.newGRPC(creds)
	apiSrv := s.grpc
	if split {
		s.apiGRPC = s.newGRPC(apiCreds)
		apiSrv = s.apiGRPC
	}
	agentv1.RegisterAgentServiceServer(s.grpc, api.NewAgentService(s.reg, s.ingest, log))
	collectorv1.RegisterCollectorServiceServer(apiSrv, api.NewCollectorService(api.CollectorConfig{
		Store: db, Registry: s.reg, Fleet: s.fleet, Analysis: s.analysis, Rules: rules, Logger: log,
	}))
	collectorv1.RegisterScheduleServiceServer(apiSrv, api.NewScheduleService(s.sched, log))
	collectorv1.RegisterAdminServiceServer(apiSrv, api.NewAdminService(db, log))
	collectorv1.RegisterInsightServiceServer(apiSrv, api.NewInsightService(s.watch, log))
	collectorv1.RegisterExperimentServiceServer(apiSrv, api.NewExperimentService(s.exp, db, log))
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if split {
		healthpb.RegisterHealthServer(s.apiGRPC, s.health)
	}

	s.mux = http.NewServeMux()
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry}))
	s.probe = &storeProbe{db: db}
	s.mux.HandleFunc("GET /healthz", s.healthz)

	if err := s.listen(rules); err != nil {
		return nil, err
	}
	return s, nil
}

// newGRPC returns a gRPC server with the collector's limits and the guard.
func (s *Server) newGRPC(creds credentials.TransportCredentials) *grpc.Server {
	return grpc.NewServer(
		grpc.Creds(creds),
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
		grpc.MaxSendMsgSize(MaxSendMsgSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WaitForHandlers(true), // Stop returns only once every handler has
		grpc.ChainUnaryInterceptor(s.guard.unary),
		grpc.ChainStreamInterceptor(s.guard.stream),
	)
}

// listen opens the gRPC and HTTP listeners and mounts the web UI; on an
// error it closes what it opened.
func (s *Server) listen(rules *bucket.Rules) (err error) {
	var opened []net.Listener
	defer func() {
		if err != nil {
			for _, l := range opened {
				l.Close()
			}
		}
	}()
	open := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		opened = append(opened, l)
		return l, nil
	}
	if s.lis, err = open(s.cfg.Listen); err != nil {
		return err
	}
	if s.apiGRPC != nil {
		if s.apiLis, err = open(s.cfg.APIListen); err != nil {
			return err
		}
	}
	if s.cfg.HTTP != "-" {
		if s.httpLis, err = open(s.cfg.HTTP); err != nil {
			return err
		}
		var h http.Handler = s.mux
		if !s.cfg.PublicUI && transport.Loopback(s.httpLis.Addr().String()) {
			// Loopback only: refuse names other than loopback ones (DNS rebinding).
			h = s.guard.checkHost(loopbackHosts(s.httpLis.Addr().String()), h)
		}
		s.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		return s.mountUI(rules)
	}
	return nil
}

// mountUI adds the web UI to the HTTP mux: on loopback addresses, or
// anywhere with PublicUI.
func (s *Server) mountUI(rules *bucket.Rules) error {
	if !s.cfg.PublicUI && !transport.Loopback(s.httpLis.Addr().String()) {
		s.log.Warn("web UI not served: the HTTP address is not loopback and serves plain text, tokens included (--public-ui serves it anyway, behind a TLS proxy)", "http", s.httpLis.Addr().String())
		return nil
	}
	ui, err := web.New(web.Config{Store: s.db, Agents: s.reg, Schedules: s.sched, Rules: rules, Insights: s.watch, Experiments: s.exp,
		Fleet: s.fleet, SessionCookie: TokenCookie, Middleware: s.guard.http, Logger: s.cfg.Logger})
	if err != nil {
		return err
	}
	ui.Register(s.mux)
	s.guard.registerLogin(s.mux)
	return nil
}

// serverCreds returns the gRPC transport credentials Config asks for on
// addr. requireClient (the agents-only listener) makes the handshake
// require and verify a client certificate.
func serverCreds(cfg Config, addr string, requireClient bool, log *slog.Logger) (credentials.TransportCredentials, error) {
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if !cfg.Insecure {
			return nil, ErrNoTLS
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("listen address %q: %w", addr, err)
		}
		if !transport.Loopback(addr) {
			return nil, fmt.Errorf("%w (listen address %s)", ErrInsecure, addr)
		}
		log.Warn("INSECURE: serving gRPC in plain text; agents are not authenticated; loopback only, never in production", "listen", addr)
		return insecure.NewCredentials(), nil
	}
	// On a shared listener: client certificates are verified in the
	// handshake when presented, required per call for the agent API by the
	// guard, optional for API clients (tokens). On the agents-only
	// listener: required.
	auth := tls.VerifyClientCertIfGiven
	if requireClient {
		auth = tls.RequireAndVerifyClientCert
	}
	tc, err := transport.ServerTLS(transport.TLSFiles{Cert: cfg.TLSCert, Key: cfg.TLSKey, CA: cfg.TLSClientCA}, auth)
	if err != nil {
		return nil, fmt.Errorf("TLS (--tls-cert, --tls-key, --tls-client-ca): %w", err)
	}
	if cfg.TLSClientCA == "" && (cfg.APIListen == "" || requireClient) {
		log.Warn("no --tls-client-ca: agents cannot connect (the agent API needs client certificates)")
	}
	if cfg.Insecure && (cfg.APIListen == "" || requireClient) {
		log.Warn("--insecure ignored: TLS is configured")
	}
	return credentials.NewTLS(tc), nil
}

// Addr is the gRPC listening address (agents, and the API unless APIListen).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// APIAddr is the API's gRPC listening address: Addr unless APIListen.
func (s *Server) APIAddr() string {
	if s.apiLis == nil {
		return s.Addr()
	}
	return s.apiLis.Addr().String()
}

// HTTPAddr is the HTTP listening address, "" when disabled.
func (s *Server) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// Mux is the HTTP mux, for the web UI to add its handlers before Run.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Store is the collector's store (for tests and tools in-process).
func (s *Server) Store() *store.DB { return s.db }

// Run serves until ctx ends, then stops gracefully: no new streams, agents'
// control streams closed, in-flight uploads and commits finished (up to the
// shutdown timeout), analyses canceled (they are redone on the next start),
// and the store closed last.
func (s *Server) Run(ctx context.Context) error {
	if err := s.writeAddrFile(); err != nil {
		s.Close()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	g.Go(func() error {
		if err := s.grpc.Serve(s.lis); err != nil {
			return fmt.Errorf("serve gRPC: %w", err)
		}
		return nil
	})
	if s.apiGRPC != nil {
		g.Go(func() error {
			if err := s.apiGRPC.Serve(s.apiLis); err != nil {
				return fmt.Errorf("serve the API's gRPC: %w", err)
			}
			return nil
		})
	}
	if s.http != nil {
		g.Go(func() error {
			if err := s.http.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve HTTP: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return s.fleet.Run(gctx) })
	g.Go(func() error { return s.sched.Run(gctx) })
	g.Go(func() error { return s.exp.Run(gctx) })
	g.Go(func() error { return s.analysis.Run(gctx) })
	g.Go(func() error { return s.watch.Run(gctx) })
	g.Go(func() error { return s.ingest.Run(gctx) })
	s.life.run(gctx, g)
	g.Go(func() error {
		<-gctx.Done()
		s.stop()
		return nil
	})
	s.log.Info("collector serving", "grpc", s.Addr(), "api", s.APIAddr(), "http", s.HTTPAddr(), "data", s.cfg.DataDir)
	err := g.Wait()
	if cerr := s.life.close(); err == nil {
		err = cerr
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	s.log.Info("collector stopped")
	return err
}

// writeAddrFile writes the bound addresses to Config.AddrFile, if set.
func (s *Server) writeAddrFile() error {
	if s.cfg.AddrFile == "" {
		return nil
	}
	addrs := map[string]string{"grpc": s.Addr(), "api": s.APIAddr()}
	if a := s.HTTPAddr(); a != "" {
		addrs["http"] = a
	}
	return transport.WriteAddrFile(s.cfg.AddrFile, addrs)
}

// stop stops the servers gracefully, then forcibly after the timeout.
func (s *Server) stop() {
	s.health.Shutdown()
	s.reg.Close()
	servers := []*grpc.Server{s.grpc}
	if s.apiGRPC != nil {
		servers = append(servers, s.apiGRPC)
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, g := range servers {
			wg.Go(g.GracefulStop)
		}
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("graceful stop timed out; closing the remaining streams")
		for _, g := range servers {
			g.Stop()
		}
		<-done
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.http.Shutdown(ctx)
	}
}

// Close releases a Server that never ran.
func (s *Server) Close() error {
	s.lis.Close()
	if s.apiLis != nil {
		s.apiLis.Close()
	}
	if s.httpLis != nil {
		s.httpLis.Close()
	}
	s.life.close()
	return s.db.Close()
}

// statusCollector counts the stored captures by status at each scrape.
type statusCollector struct{ db *store.DB }

var capturesDesc = prometheus.NewDesc("fleetprof_collector_captures", "Stored captures by status.", []string{"status"}, nil)

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- capturesDesc }

// Collect implements prometheus.Collector. Prometheus gives collectors no
// context; the count is one short read transaction.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	_ = c.db.View(context.Background(), func(r *store.Reader) error {
		counts := r.CountByStatus()
		for _, st := range []string{store.StatusCommitted, store.StatusAnalyzed, store.StatusAnalysisFailed} {
			ch <- prometheus.MustNewConstMetric(capturesDesc, prometheus.GaugeValue, float64(counts[st]), st)
		}
		return nil
	})
}
