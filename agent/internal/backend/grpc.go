package backend

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

// MaxXSpaceBytes bounds an inline XSpace answer.
const MaxXSpaceBytes = 1 << 30

// The profiler service starts tracing when it reads the Profile request and
// does not say so: the agent connects first, then holds the workload until
// the request has left and the server has had profileLead to read it (at
// most a quarter of the duration). Without that, a workload sent while the
// connection was still being set up ran before the session began, and a
// loaded machine got an empty trace.
const (
	profileLead  = 100 * time.Millisecond
	readyTimeout = 10 * time.Second
)

// GRPCOptions configure the JAX profiler service backend. The zero value works.
type GRPCOptions struct {
	// HostName names the host in file names. Empty means os.Hostname.
	HostName string
	// MaxEvents is the request's event cap. Zero means 1,000,000 (what the
	// remote capture client asks for).
	MaxEvents uint64
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
}

// GRPC profiles through tensorflow.ProfilerService/Profile, the service
// jax.profiler.start_server opens.
type GRPC struct {
	addr   string
	conn   *grpc.ClientConn
	client tensorflowpb.ProfilerServiceClient
	opts   GRPCOptions
	log    *slog.Logger
}

// CheckLoopback returns ErrNotLoopback unless addr (host:port) names a
// loopback address.
func CheckLoopback(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrNotLoopback, addr, err)
	}
	if !transport.Loopback(addr) {
		return fmt.Errorf("%w: got %q", ErrNotLoopback, addr)
	}
	return nil
}

// NewGRPC returns the backend for the profiler service at addr (host:port on
// loopback, e.g. 127.0.0.1:8466). It does not connect until the first capture.
func NewGRPC(addr string, opts GRPCOptions) (*GRPC, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	if opts.HostName == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "localhost"
		}
		opts.HostName = h
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = 1_000_000
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(sentHandler{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxXSpaceBytes)))
	if err != nil {
		return nil, fmt.Errorf("backend: dial profiler service %s: %w", addr, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &GRPC{addr: addr, conn: conn, client: tensorflowpb.NewProfilerServiceClient(conn), opts: opts,
		log: log.With("component", "backend", "backend", "grpc")}, nil
}

// Close closes the connection.
func (g *GRPC) Close() error { return g.conn.Close() }

// Name returns "grpc".
func (g *GRPC) Name() string { return "grpc" }

// Capture calls Profile with opts.version = 1 (else the tracer levels are
// ignored) and the duration in both places (the server waits on
// opts.duration_ms), asks for the XSpace inline, and falls back to the file
// the server wrote under repository_root/session_id.
func (g *GRPC) Capture(ctx context.Context, req Request) (*Result, error) {
	if err := checkWritable(req.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Dir, err)
	}
	d := req.Duration
	if d <= 0 {
		d = 2 * time.Second
	}
	level := func(p *int32, def uint32) uint32 {
		if p == nil || *p < 0 {
			return def
		}
		return uint32(*p)
	}
	session := req.ID
	if session == "" {
		session = time.Now().UTC().Format("2006_01_02_15_04_05")
	}
	preq := &tensorflowpb.ProfileRequest{
		DurationMs: uint64(d.Milliseconds()),
		MaxEvents:  g.opts.MaxEvents,
		Opts: &tensorflowpb.ProfileOptions{
			Version:           1,
			HostTracerLevel:   level(req.HostTracerLevel, 2),
			DeviceTracerLevel: level(req.DeviceTracerLevel, 1),
			PythonTracerLevel: level(req.PythonTracerLevel, 0),
			DurationMs:        uint64(d.Milliseconds()),
		},
		RepositoryRoot: req.Dir,
		SessionId:      session,
		HostName:       g.opts.HostName,
		EmitXspace:     true,
	}
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	res := &Result{Started: time.Now()}
	g.log.Info("profiling", "capture_id", req.ID, "addr", g.addr, "duration", d.String())

	// The call blocks for the duration; the workload runs beside it.
	type answer struct {
		resp *tensorflowpb.ProfileResponse
		err  error
	}
	sent := &sentSignal{ch: make(chan struct{})}
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, sentKey{}, sent), d+2*time.Minute)
	defer cancel()
	got := make(chan answer, 1)
	go func() {
		resp, err := g.client.Profile(cctx, preq, grpc.WaitForReady(false))
		got <- answer{resp, err}
	}()
	if req.During != nil {
		// A call that fails before its request leaves goes on to its
		// answer below; the workload then does not run.
		select {
		case <-sent.ch:
			lead := time.NewTimer(min(profileLead, d/4))
			select {
			case <-lead.C:
			case <-ctx.Done():
				lead.Stop()
			}
			if ctx.Err() == nil {
				res.DuringErr = req.During(ctx)
			}
		case a := <-got:
			got <- a
		case <-ctx.Done():
		}
	}
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		cancel()
		<-got
		return nil, ctx.Err()
	}
	// The service profiles for the duration, then converts and answers:
	// the session ends at the duration, or earlier if the call did.
	res.Stopped = time.Now()
	if end := res.Started.Add(d); end.Before(res.Stopped) {
		res.Stopped = end
	}
	if a.err != nil {
		return nil, grpcErr(g.addr, a.err)
	}
	resp := a.resp
	res.EmptyTrace = resp.GetEmptyTrace()
	run := filepath.Join(req.Dir, session)
	file := filepath.Join(run, HostFileName(g.opts.HostName)+".xplane.pb")
	if xs := resp.GetXspace(); xs != nil {
		b, err := proto.Marshal(xs)
		if err != nil {
			return nil, fmt.Errorf("backend: encode the inline XSpace: %w", err)
		}
		if err := os.MkdirAll(run, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDirNotWritable, err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return nil, fmt.Errorf("backend: write %s: %w", file, err)
		}
	} else if _, err := os.Stat(file); err != nil {
		if m, _ := filepath.Glob(filepath.Join(run, "*.xplane.pb")); len(m) > 0 {
			g.log.Debug("xspace under another host name", "file", m[0])
		} else if res.EmptyTrace {
			// Nothing traced and nothing written: an empty folder says so.
			if err := os.MkdirAll(run, 0o755); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrDirNotWritable, err)
			}
			res.RunDir = run
			return res, nil
		} else {
			return nil, fmt.Errorf("%w (looked for %s)", ErrNoXSpace, file)
		}
	}
	res.RunDir = run
	var err error
	res.Files, res.RawBytes, err = listFiles(run)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", run, err)
	}
	return res, nil
}

// ready connects, and waits until the connection is up or readyTimeout has
// passed (the call then reports why it could not connect).
func (g *GRPC) ready(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		st := g.conn.GetState()
		switch st {
		case connectivity.Ready:
			return nil
		case connectivity.Idle:
			g.conn.Connect()
		}
		if !g.conn.WaitForStateChange(rctx, st) {
			// Only the caller's own cancellation is an error here.
			return ctx.Err()
		}
	}
}

// sentKey keys the *sentSignal a Profile call's context carries.
type sentKey struct{}

// sentSignal's ch is closed once the call's request has been written to
// the connection (a transparent retry writes it again).
type sentSignal struct {
	once sync.Once
	ch   chan struct{}
}

// sentHandler is a client stats.Handler that closes the call context's
// sentKey channel when its request has been sent.
type sentHandler struct{}

func (sentHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (sentHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (sentHandler) HandleConn(context.Context, stats.ConnStats) {}
func (sentHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutPayload); !ok {
		return
	}
	if sig, ok := ctx.Value(sentKey{}).(*sentSignal); ok {
		sig.once.Do(func() { close(sig.ch) })
	}
}

// grpcErr names a Profile failure.
func grpcErr(addr string, err error) error {
	st, _ := status.FromError(err)
	msg := strings.ToLower(st.Message())
	switch {
	case st.Code() == codes.AlreadyExists, st.Code() == codes.FailedPrecondition,
		strings.Contains(msg, "another profil"), strings.Contains(msg, "already"):
		return fmt.Errorf("profile %s: %w (%s)", addr, ErrAlreadyProfiling, st.Message())
	case st.Code() == codes.Unavailable:
		return fmt.Errorf("backend: profiler service %s unavailable: is jax.profiler.start_server running on that port? %w", addr, err)
	case st.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("profile %s: %w", addr, ErrTimeout)
	}
	return fmt.Errorf("profile %s: %w", addr, err)
}
