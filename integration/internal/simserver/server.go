// Package simserver is a simulated sglang-jax server: the HTTP API of
// `python -m sgl_jax.launch_server` (health, server and model info,
// /v1/score, /generate, /start_profile, /stop_profile, /profile_status,
// /metrics) with the real request and response shapes and error behaviour,
// and optionally the JAX profiler's gRPC service. While profiling it records
// each forward step it serves and, when the profile stops, writes a realistic
// run folder (<host>.xplane.pb and <host>.trace.json.gz) whose device bursts
// replay the seed run's real TPU ops at the times the steps ran.
//
// It is how tests and the demo run without a TPU; a real deployment never
// needs it.
package simserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/plugins/transport"
	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"
)

// Errors.
var (
	// ErrCrashed is what Serve returns when the server crashed on purpose
	// after Config.CrashAfter requests; the binary exits with status 1.
	ErrCrashed = errors.New("simserver: crashed on purpose after serving --crash-after requests")
	// ErrBusy means a profiling session is already running (the real server
	// answers HTTP 500, the profiler service FAILED_PRECONDITION).
	ErrBusy = errors.New("simserver: a profiling session is already running: stop it first")
	// ErrNotProfiling means a stop found no profiling session running.
	ErrNotProfiling = errors.New("simserver: no profiling session is running: start one with /start_profile")
	// ErrOutputDir means the profile's output directory cannot be written.
	ErrOutputDir = errors.New("simserver: the output directory is not writable")
	// ErrConfig means a Config field is invalid.
	ErrConfig = errors.New("simserver: bad config")
)

// Device tracer behaviours (Config.DeviceTracer).
const (
	// DeviceTracerPatched honours device_tracer_level, as sglang-jax with
	// the device_tracer_level patch does.
	DeviceTracerPatched = "patched"
	// DeviceTracerIgnored traces no device, as unpatched sglang-jax does.
	DeviceTracerIgnored = "ignored"
)

// When a /start_profile session with num_steps stops (Config.AutoStop).
const (
	// AutoStopEager stops the profile as soon as its num_steps-th step ends.
	AutoStopEager = "eager"
	// AutoStopNextStep stops it when the next step begins, as sglang-jax's
	// scheduler does (_profile_batch_predicate): with no further traffic
	// the profile stays in progress until /stop_profile.
	AutoStopNextStep = "next-step"
)

// AnyPort as Config.Port or Config.ProfilerPort serves on a port the
// kernel picks, which the "serving" log line and Config.AddrFile report.
const AnyPort = -1

// Config configures a Server. The zero value works.
type Config struct {
	// Host is the HTTP listen address for Run. Empty means 127.0.0.1.
	Host string
	// Port is the HTTP port for Run. Zero means 30000; AnyPort lets the
	// kernel pick a free one.
	Port int
	// ModelPath is the model the server claims to serve. Empty means
	// Qwen/Qwen3-0.6B.
	ModelPath string
	// APIKey, if set, is required as "Authorization: Bearer <key>" on every
	// path except /health* and /metrics*.
	APIKey string
	// Hostname names the profile files. Empty means os.Hostname().
	Hostname string
	// Devices is the number of TPU devices. Zero means 1.
	Devices int
	// StartupDelay is how long /health answers 503 after New.
	StartupDelay time.Duration
	// CrashAfter, if positive, makes Serve return ErrCrashed after that many
	// requests (every path except /health* and /metrics* counts).
	CrashAfter int
	// DeviceTracer is DeviceTracerPatched (the default when empty) or
	// DeviceTracerIgnored.
	DeviceTracer string
	// EmptyXPlane makes /stop_profile write a 0-byte .xplane.pb (the trace
	// JSON stays whole) and still answer 200, as sglang-jax does with an
	// XSpace over 2 GB.
	EmptyXPlane bool
	// AutoStop is AutoStopEager (the default when empty) or AutoStopNextStep.
	AutoStop string
	// ProfilerPort, if positive or AnyPort, makes Run serve the JAX
	// profiler's gRPC service on 127.0.0.1 at that port. Zero means none.
	ProfilerPort int
	// AddrFile, if set, is where Serve writes the bound addresses ("http"
	// and, if served, "profiler") before serving, as
	// transport.WriteAddrFile does.
	AddrFile string
	// Seed makes the op order, gaps and scores of a run reproducible.
	Seed uint64
	// StepGap is how long the scheduler idles after each forward step, so
	// device bursts stay apart. Zero means 2 ms.
	StepGap time.Duration
	// Slowdown makes the matching ops slower (or faster) than the seed
	// run's: a host unlike its peers. None means the seed times.
	Slowdown []Slowdown
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = 30000
	}
	if c.ModelPath == "" {
		c.ModelPath = "Qwen/Qwen3-0.6B"
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "localhost"
		}
		c.Hostname = h
	}
	if c.Devices == 0 {
		c.Devices = 1
	}
	if c.DeviceTracer == "" {
		c.DeviceTracer = DeviceTracerPatched
	}
	if c.AutoStop == "" {
		c.AutoStop = AutoStopEager
	}
	if c.StepGap == 0 {
		c.StepGap = 2 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case (c.Port < 0 && c.Port != AnyPort) || c.Port > 65535:
		return fmt.Errorf("%w: port %d is outside 1..65535", ErrConfig, c.Port)
	case (c.ProfilerPort < 0 && c.ProfilerPort != AnyPort) || c.ProfilerPort > 65535:
		return fmt.Errorf("%w: profiler port %d is outside 1..65535", ErrConfig, c.ProfilerPort)
	case c.Devices < 0 || c.Devices > 64:
		return fmt.Errorf("%w: devices %d is outside 1..64", ErrConfig, c.Devices)
	case c.DeviceTracer != DeviceTracerPatched && c.DeviceTracer != DeviceTracerIgnored:
		return fmt.Errorf("%w: device tracer %q: want %q or %q", ErrConfig, c.DeviceTracer,
			DeviceTracerPatched, DeviceTracerIgnored)
	case c.AutoStop != AutoStopEager && c.AutoStop != AutoStopNextStep:
		return fmt.Errorf("%w: auto-stop %q: want %q or %q", ErrConfig, c.AutoStop, AutoStopEager, AutoStopNextStep)
	case c.StartupDelay < 0 || c.CrashAfter < 0 || c.StepGap < 0:
		return fmt.Errorf("%w: startup delay, crash-after and step gap must not be negative", ErrConfig)
	}
	return checkSlowdown(c.Slowdown)
}

// Server is a simulated sglang-jax server. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ops     *opTable
	readyAt time.Time
	crash   chan struct{}
	crashed sync.Once
	served  atomic.Int64
	reqs    atomic.Int64
	stats   counters

	// sched serialises forward steps, as sglang's one scheduler does; a
	// stop takes it too, so it never cuts a step in half.
	sched sync.Mutex
	// seq numbers forward steps since start. Guarded by sched.
	seq int64

	mu sync.Mutex
	// sess is the running profiling session, if any.
	sess *session
	// last is the ground truth of the last profile written.
	last *Profile
}

// counters are the totals /metrics reports.
type counters struct {
	requests, promptTokens, genTokens, steps atomic.Int64
	running                                  atomic.Int64
}

// New returns a Server for cfg; /health answers 200 once cfg.StartupDelay
// has passed.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ops, err := parseOpTable(seedOpStats)
	if err != nil {
		return nil, err
	}
	if n := ops.slow(cfg.Slowdown); n > 0 {
		cfg.Logger.Info("ops slowed down", "slowdown", formatSlowdown(cfg.Slowdown), "ops", n)
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "simserver"),
		ops:     ops,
		readyAt: time.Now().Add(cfg.StartupDelay),
		crash:   make(chan struct{}),
	}, nil
}

// Run listens on cfg.Host:cfg.Port (and on 127.0.0.1:cfg.ProfilerPort when
// set; AnyPort for either picks a free port) and serves until ctx is done (returning nil) or the server crashes
// on purpose (returning ErrCrashed).
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	hl, err := lc.Listen(ctx, "tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(max(s.cfg.Port, 0))))
	if err != nil {
		return fmt.Errorf("simserver: listen: %w", err)
	}
	var gl net.Listener
	if s.cfg.ProfilerPort != 0 {
		gl, err = lc.Listen(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(max(s.cfg.ProfilerPort, 0))))
		if err != nil {
			hl.Close()
			return fmt.Errorf("simserver: listen for the profiler service: %w", err)
		}
	}
	return s.Serve(ctx, hl, gl)
}

// Serve serves HTTP on hl and, if gl is not nil, the JAX profiler's gRPC
// service on gl, until ctx is done (returning nil) or the server crashes on
// purpose (returning ErrCrashed). It closes both listeners. It first
// writes their addresses to Config.AddrFile, if set.
func (s *Server) Serve(ctx context.Context, hl, gl net.Listener) error {
	if s.cfg.AddrFile != "" {
		addrs := map[string]string{"http": hl.Addr().String()}
		if gl != nil {
			addrs["profiler"] = gl.Addr().String()
		}
		if err := transport.WriteAddrFile(s.cfg.AddrFile, addrs); err != nil {
			hl.Close()
			if gl != nil {
				gl.Close()
			}
			return fmt.Errorf("simserver: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	var gs *grpc.Server
	if gl != nil {
		gs = grpc.NewServer(grpc.MaxRecvMsgSize(4<<20), grpc.MaxSendMsgSize(1<<30))
		tensorflowpb.RegisterProfilerServiceServer(gs, &profilerService{s: s})
	}
	s.log.Info("serving", "http", hl.Addr().String(), "profiler", addrOf(gl),
		"model", s.cfg.ModelPath, "devices", s.cfg.Devices, "device_tracer", s.cfg.DeviceTracer)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := hs.Serve(hl); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("simserver: serve http: %w", err)
		}
		return nil
	})
	if gs != nil {
		g.Go(func() error {
			if err := gs.Serve(gl); err != nil {
				return fmt.Errorf("simserver: serve grpc: %w", err)
			}
			return nil
		})
	}
	var crashed bool
	g.Go(func() error {
		select {
		case <-gctx.Done():
		case <-s.crash:
			crashed = true
		}
		// Let the last response go out, then stop.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 200*time.Millisecond)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		if gs != nil {
			gs.Stop()
		}
		return nil
	})
	err := g.Wait()
	if crashed {
		return ErrCrashed
	}
	return err
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// ready reports whether startup has completed.
func (s *Server) ready() bool { return !time.Now().Before(s.readyAt) }

// countRequest counts a request towards Config.CrashAfter.
func (s *Server) countRequest() {
	if s.cfg.CrashAfter <= 0 {
		return
	}
	if s.served.Add(1) >= int64(s.cfg.CrashAfter) {
		s.crashed.Do(func() {
			s.log.Warn("crashing on purpose", "requests", s.cfg.CrashAfter)
			close(s.crash)
		})
	}
}

// Crashed is closed when the server has served Config.CrashAfter requests.
func (s *Server) Crashed() <-chan struct{} { return s.crash }
