// Package uplink connects the agent to the collector: it dials out, holds
// the Control stream (register, heartbeats, capture progress up; capture
// commands down) and uploads spooled captures over Upload streams, resuming
// where the collector says after any disconnect or restart of either side.
// It reconnects with backoff forever.
package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/fleetprof/fleetprof/agent/internal/metrics"
	"github.com/fleetprof/fleetprof/agent/internal/spool"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Limits.
const (
	// MaxMessageBytes bounds gRPC messages both ways (a chunk is 1 MiB).
	MaxMessageBytes = 4 << 20
	// progressQueue bounds the capture progress messages waiting to be sent.
	progressQueue = 64
)

// Errors.
var (
	// ErrNoAddr means no collector address was given.
	ErrNoAddr = errors.New("uplink: no collector address")
	// ErrNotRegistered means the collector did not answer Register.
	ErrNotRegistered = errors.New("uplink: the collector did not answer Register with Registered")
	// ErrRejected means the collector refused the upload's end (size or hash mismatch).
	ErrRejected = errors.New("uplink: the collector closed the upload without committing it")
	// ErrStalled means the collector stopped acknowledging chunks.
	ErrStalled = errors.New("uplink: the collector stopped acknowledging chunks")
)

// Handler is what the agent does with the collector's commands.
type Handler interface {
	// Capture starts a capture in the background and returns at once; the
	// capture outlives the control stream that asked for it.
	Capture(cmd *agentv1.CaptureCommand)
	// Cancel cancels a capture.
	Cancel(id string)
}

// Options configure a Client. Addr, AgentID, Spool and Handler are required.
type Options struct {
	// Addr is the collector's host:port.
	Addr string
	// TLS is the client's TLS config; nil means plaintext (loopback only,
	// which the caller checks).
	TLS *tls.Config
	// AgentID is the agent's id.
	AgentID string
	// Register builds the Register message (pending captures are filled
	// from the spool).
	Register func() *agentv1.Register
	// Heartbeat builds a heartbeat.
	Heartbeat func() *agentv1.Heartbeat
	// BeatNow, if set, sends a heartbeat at once whenever it receives
	// (the model server's health changed), so the collector does not show
	// a stale health for a whole interval. Nil: heartbeats on the interval
	// only.
	BeatNow <-chan struct{}
	// Handler receives capture commands.
	Handler Handler
	// Spool holds the captures to upload.
	Spool *spool.Spool
	// OnCommitted is called after the collector committed a capture, before
	// its spool entry is removed (it deletes the raw output).
	OnCommitted func(spool.Meta)
	// OnRejected is called after a capture the collector refused for good
	// (or whose spool file was corrupt) moved to the spool's rejected
	// folder, with the reason. Nil means nothing more is done.
	OnRejected func(m spool.Meta, reason string)
	// MinBackoff and MaxBackoff bound reconnect and upload retry delays
	// (each capture backs off on its own). Zero means 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Window is the most unacknowledged chunks in flight. Zero means 8.
	Window int
	// AckTimeout fails an upload attempt when no acknowledgement comes for
	// this long. Zero means 60s.
	AckTimeout time.Duration
	// UploadPause waits this long before each chunk and before UploadEnd.
	// It is a test knob that makes an upload slow enough to interrupt
	// (fault tests kill the collector or the agent mid-upload). Zero, the
	// default, means no pause.
	UploadPause time.Duration
	// Metrics records bytes sent and connection state. Nil records nothing.
	Metrics *metrics.Metrics
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
	// DialOptions are added to the connection's (tests).
	DialOptions []grpc.DialOption
}

// Client is the agent's side of the collector connection.
type Client struct {
	opts     Options
	log      *slog.Logger
	conn     *grpc.ClientConn
	api      agentv1.AgentServiceClient
	progress chan *agentv1.CaptureProgress

	finishMu sync.Mutex // serialises committed()

	// verifiedMu guards verified.
	verifiedMu sync.Mutex
	// verified holds the spooled captures whose files this process checked
	// against their sidecar's SHA-256.
	verified map[string]bool
}

// New checks the options and makes the connection (which dials lazily).
func New(opts Options) (*Client, error) {
	if opts.Addr == "" {
		return nil, ErrNoAddr
	}
	if opts.Spool == nil || opts.Handler == nil || opts.AgentID == "" {
		return nil, errors.New("uplink: Spool, Handler and AgentID are required")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 8
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 60 * time.Second
	}
	if opts.Register == nil {
		opts.Register = func() *agentv1.Register { return &agentv1.Register{AgentId: opts.AgentID} }
	}
	if opts.Heartbeat == nil {
		opts.Heartbeat = func() *agentv1.Heartbeat { return &agentv1.Heartbeat{} }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}, opts.DialOptions...)
	conn, err := grpc.NewClient(opts.Addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("uplink: connect %s: %w", opts.Addr, err)
	}
	return &Client{
		opts:     opts,
		log:      log.With("component", "uplink", "collector", opts.Addr),
		conn:     conn,
		api:      agentv1.NewAgentServiceClient(conn),
		progress: make(chan *agentv1.CaptureProgress, progressQueue),
		verified: map[string]bool{},
	}, nil
}

// Progress queues a capture progress report for the control stream. When
// the queue is full the oldest report is dropped: the newest state wins.
func (c *Client) Progress(p *agentv1.CaptureProgress) {
	for {
		select {
		case c.progress <- p:
			return
		default:
		}
		select {
		case old := <-c.progress:
			c.log.Debug("progress queue full: dropped an old report", "capture_id", old.GetCaptureId())
		default:
		}
	}
}

// Run holds the control stream and uploads the spool until ctx is done,
// reconnecting forever. It closes the connection on return.
func (c *Client) Run(ctx context.Context) error {
	defer c.conn.Close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.controlLoop(ctx) })
	g.Go(func() error { return c.uploadLoop(ctx) })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
