// Package registry keeps the collector's view of its agents: who is
// connected, on which control stream, when each was last heard from, what it
// is capturing. It serves the agents' control streams, sends commands down
// them, and tells an Observer (the fleet capture tracker) about connections
// and capture progress.
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// Errors.
var (
	// ErrNotConnected means the agent has no open control stream.
	ErrNotConnected = errors.New("registry: agent not connected")
	// ErrOutboxFull means the agent's command queue is full: it is not
	// reading its control stream.
	ErrOutboxFull = errors.New("registry: agent's command queue is full")
	// ErrNoRegister means a control stream did not start with Register.
	ErrNoRegister = errors.New("registry: control stream must start with Register")
	// ErrIdentity means an agent registered under an id other than its
	// authenticated identity.
	ErrIdentity = errors.New("registry: agent id does not match the agent's identity")
	// ErrReplaced means a newer control stream of the same agent took over.
	ErrReplaced = errors.New("registry: replaced by a newer control stream of the same agent")
	// ErrSilent means an agent sent nothing for several heartbeat intervals.
	ErrSilent = errors.New("registry: agent missed its heartbeats")
	// ErrClosed means the registry is shutting down.
	ErrClosed = errors.New("registry: shutting down")
	// ErrTooBig means a Register holds more than the collector takes: too
	// many or too long labels, or a host name, version or backend list
	// past its bound. The text names the bound.
	ErrTooBig = errors.New("registry: Register over the limits (see docs/security.md, labels)")
)

// Bounds of Register's other strings.
const (
	// MaxHostBytes bounds the host name (a DNS name has at most 253).
	MaxHostBytes = 253
	// MaxVersionBytes bounds the agent and server versions.
	MaxVersionBytes = 128
	// MaxBackends bounds the capture backends listed, each MaxVersionBytes.
	MaxBackends = 16
)

// Observer hears about agents. Its methods run on the control stream's
// goroutine and must not block.
type Observer interface {
	// Connected is called when an agent registers.
	Connected(agentID string, reg *agentv1.Register)
	// Progress is called for each capture progress an agent reports.
	Progress(agentID string, p *agentv1.CaptureProgress)
	// Disconnected is called when an agent's control stream ends.
	Disconnected(agentID string)
}

// Config configures a Registry. The zero value works, except that Store is
// required.
type Config struct {
	// Store persists agents and answers which pending captures are committed.
	Store *store.DB
	// HeartbeatInterval is what agents are told. Zero means 5 s.
	HeartbeatInterval time.Duration
	// MissedHeartbeats is how many intervals of silence end a stream. Zero means 3.
	MissedHeartbeats int
	// RegisterTimeout bounds the wait for Register. Zero means 10 s.
	RegisterTimeout time.Duration
	// OutboxSize bounds each agent's queue of commands. Zero means 64.
	OutboxSize int
	// Labels bound each agent's labels; a Register past them is refused
	// (ErrTooBig). The zero value means the labels package's defaults.
	Labels labels.Limits
	// Identity returns the authenticated agent id of a stream's context, or
	// "" when agents are not authenticated (no mTLS). Nil means "".
	Identity func(ctx context.Context) string
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Registry tracks agents. Its methods are safe for concurrent use.
type Registry struct {
	cfg       Config
	log       *slog.Logger
	connected prometheus.Gauge

	obsMu    sync.RWMutex
	observer Observer

	// notifyMu orders Connected and Disconnected calls, so that an old
	// stream ending never reports an agent gone after its new stream
	// reported it back.
	notifyMu sync.Mutex

	// mu guards conns and closed.
	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	done   chan struct{}
}

// conn is one agent's open control stream.
type conn struct {
	id     string
	reg    *agentv1.Register
	out    chan *agentv1.ControlResponse
	cancel context.CancelCauseFunc
	since  time.Time

	// mu guards the fields below.
	mu       sync.Mutex
	lastSeen time.Time
	hb       *agentv1.Heartbeat
	active   string
}

// New returns a Registry.
func New(cfg Config) *Registry {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.MissedHeartbeats <= 0 {
		cfg.MissedHeartbeats = 3
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = 10 * time.Second
	}
	if cfg.OutboxSize <= 0 {
		cfg.OutboxSize = 64
	}
	if cfg.Identity == nil {
		cfg.Identity = func(context.Context) string { return "" }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg:   cfg,
		log:   log.With("component", "registry"),
		conns: make(map[string]*conn),
		done:  make(chan struct{}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_collector_agents_connected",
			Help: "Agents with an open control stream.",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.connected)
	}
	return r
}

// SetObserver sets who hears about agents; call it before serving.
func (r *Registry) SetObserver(o Observer) {
	r.obsMu.Lock()
	r.observer = o
	r.obsMu.Unlock()
}

func (r *Registry) obs() Observer {
	r.obsMu.RLock()
	defer r.obsMu.RUnlock()
	return r.observer
}

// Close ends every control stream and refuses new ones, so a graceful gRPC
// stop can finish.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	close(r.done)
	for _, c := range r.conns {
		c.cancel(ErrClosed)
	}
}

// ControlStream is the server side of an agent's control stream.
type ControlStream = grpc.BidiStreamingServer[agentv1.ControlRequest, agentv1.ControlResponse]

// Serve runs one agent's control stream until it ends, the agent goes
// silent, a newer stream of the same agent replaces it, or Close.
func (r *Registry) Serve(stream ControlStream) error {
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)

	in := make(chan *agentv1.ControlRequest)
	recvErr := make(chan error, 1)
	go func() { // ends when the handler returns and the stream's context ends
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Register first.
	var reg *agentv1.Register
	timer := time.NewTimer(r.cfg.RegisterTimeout)
	select {
	case m := <-in:
		timer.Stop()
		reg = m.GetRegister()
		if reg == nil {
			return ErrNoRegister
		}
	case err := <-recvErr:
		timer.Stop()
		return err
	case <-timer.C:
		return fmt.Errorf("%w (none within %s)", ErrNoRegister, r.cfg.RegisterTimeout)
	case <-r.done:
		return ErrClosed
	}
	id := reg.GetAgentId()
	if err := ids.CheckAgent(id); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if ident := r.cfg.Identity(ctx); ident != "" && ident != id {
		return fmt.Errorf("%w: registered as %q, authenticated as %q", ErrIdentity, id, ident)
	}
	if err := r.checkRegister(reg); err != nil {
		r.log.Warn("agent refused", "agent_id", id, "error", err)
		return err
	}
	log := r.log.With("agent_id", id)

	committed, err := r.remember(ctx, reg)
	if err != nil {
		return err
	}
	c := &conn{
		id: id, reg: reg, cancel: cancel, since: time.Now(), lastSeen: time.Now(),
		out: make(chan *agentv1.ControlResponse, r.cfg.OutboxSize),
	}
	for _, p := range reg.GetActive() {
		if isActive(p.GetState()) {
			c.active = p.GetCaptureId()
		}
	}
	// Installed (and the observer told) before the agent hears Registered:
	// once it has, it is listed and can be commanded.
	if err := r.add(c); err != nil {
		return err
	}
	log.Info("agent connected", "host", reg.GetHost(), "labels", reg.GetLabels(), "pending", len(reg.GetPendingCaptures()), "active", len(reg.GetActive()))
	if o := r.obs(); o != nil {
		r.notifyMu.Lock()
		o.Connected(id, reg)
		r.notifyMu.Unlock()
	}
	defer func() {
		if !r.remove(c) {
			return // a newer stream of the agent took over
		}
		if o := r.obs(); o != nil {
			r.notifyMu.Lock()
			if !r.Connected(id) { // else a new stream is back already
				o.Disconnected(id)
			}
			r.notifyMu.Unlock()
		}
		r.forget(context.WithoutCancel(ctx), c)
	}()
	if err := stream.Send(&agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Registered{Registered: &agentv1.Registered{
		HeartbeatIntervalMs: r.cfg.HeartbeatInterval.Milliseconds(),
		Committed:           committed,
	}}}); err != nil {
		return err
	}

	silence := r.cfg.HeartbeatInterval * time.Duration(r.cfg.MissedHeartbeats)
	tick := time.NewTicker(max(r.cfg.HeartbeatInterval/2, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case m := <-in:
			c.mu.Lock()
			c.lastSeen = time.Now()
			c.mu.Unlock()
			switch msg := m.GetMsg().(type) {
			case *agentv1.ControlRequest_Heartbeat:
				c.mu.Lock()
				c.hb = msg.Heartbeat
				c.mu.Unlock()
			case *agentv1.ControlRequest_Progress:
				p := msg.Progress
				c.mu.Lock()
				switch {
				case isActive(p.GetState()):
					c.active = p.GetCaptureId()
				case c.active == p.GetCaptureId():
					c.active = ""
				}
				c.mu.Unlock()
				log.Debug("capture progress", "capture_id", p.GetCaptureId(), "state", p.GetState().String(), "message", p.GetMessage())
				if o := r.obs(); o != nil {
					o.Progress(id, p)
				}
			case *agentv1.ControlRequest_Register:
				log.Warn("agent registered twice on one stream; ignored")
			}
		case m := <-c.out:
			if err := stream.Send(m); err != nil {
				return err
			}
		case err := <-recvErr:
			log.Info("agent disconnected", "error", err)
			return err
		case <-tick.C:
			c.mu.Lock()
			quiet := time.Since(c.lastSeen)
			c.mu.Unlock()
			if quiet > silence {
				log.Warn("agent went silent", "silent_for", quiet.Round(time.Millisecond))
				return fmt.Errorf("%w (silent for %s)", ErrSilent, quiet.Round(time.Millisecond))
			}
		case <-ctx.Done():
			err := context.Cause(ctx)
			log.Info("control stream ended", "why", err)
			return err
		}
	}
}

func isActive(s agentv1.CaptureState) bool {
	switch s {
	case agentv1.CaptureState_CAPTURE_STATE_ACCEPTED, agentv1.CaptureState_CAPTURE_STATE_PROFILING,
		agentv1.CaptureState_CAPTURE_STATE_TRIMMING, agentv1.CaptureState_CAPTURE_STATE_UPLOADING:
		return true
	}
	return false
}

// checkRegister refuses a Register with more than the collector stores for
// an agent (ErrTooBig).
func (r *Registry) checkRegister(reg *agentv1.Register) error {
	if err := r.cfg.Labels.Check(reg.GetLabels()); err != nil {
		return fmt.Errorf("%w: %w: give the agent fewer or shorter --label flags", ErrTooBig, err)
	}
	switch {
	case len(reg.GetHost()) > MaxHostBytes:
		return fmt.Errorf("%w: host name of %d bytes, at most %d", ErrTooBig, len(reg.GetHost()), MaxHostBytes)
	case len(reg.GetAgentVersion()) > MaxVersionBytes || len(reg.GetServerVersion()) > MaxVersionBytes:
		return fmt.Errorf("%w: a version string over %d bytes", ErrTooBig, MaxVersionBytes)
	case len(reg.GetBackends()) > MaxBackends:
		return fmt.Errorf("%w: %d backends, at most %d", ErrTooBig, len(reg.GetBackends()), MaxBackends)
	}
	for _, b := range reg.GetBackends() {
		if len(b) > MaxVersionBytes {
			return fmt.Errorf("%w: a backend name over %d bytes", ErrTooBig, MaxVersionBytes)
		}
	}
	return nil
}

// add installs c, replacing (and ending) an older stream of the same agent.
func (r *Registry) add(c *conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if old := r.conns[c.id]; old != nil {
		old.cancel(ErrReplaced)
	} else {
		r.connected.Inc()
	}
	r.conns[c.id] = c
	return nil
}

// remove uninstalls c unless a newer stream replaced it, and reports
// whether it did.
func (r *Registry) remove(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[c.id] != c {
		return false
	}
	delete(r.conns, c.id)
	r.connected.Dec()
	return true
}

// MaxPendingLookups bounds how many of an agent's pending captures are
// looked up at Register; the rest are answered by their uploads.
const MaxPendingLookups = 4096

// remember stores the agent and returns which of its pending captures are
// committed: only those committed as its own, so that Register does not
// tell an agent which other capture ids exist.
func (r *Registry) remember(ctx context.Context, reg *agentv1.Register) ([]string, error) {
	now := time.Now().UnixNano()
	pending := reg.GetPendingCaptures()
	pending = pending[:min(len(pending), MaxPendingLookups)]
	var committed []string
	err := r.cfg.Store.Group(ctx, func(w *store.Writer) error {
		committed = committed[:0]
		for _, id := range pending {
			if !w.Committed(id) {
				continue
			}
			if c, err := w.Capture(id); err == nil && c.AgentID == reg.GetAgentId() {
				committed = append(committed, id)
			}
		}
		a, err := w.Agent(reg.GetAgentId())
		if err != nil {
			a = &store.Agent{ID: reg.GetAgentId(), FirstSeenNS: now}
		}
		a.Host, a.Labels = reg.GetHost(), reg.GetLabels()
		a.AgentVersion, a.ServerVersion = reg.GetAgentVersion(), reg.GetServerVersion()
		a.Backends, a.LastSeenNS = reg.GetBackends(), now
		return w.PutAgent(a)
	})
	if err != nil {
		return nil, fmt.Errorf("register agent %q: %w", reg.GetAgentId(), err)
	}
	return committed, nil
}

// forget records when a disconnected agent was last seen.
func (r *Registry) forget(ctx context.Context, c *conn) {
	c.mu.Lock()
	last := c.lastSeen
	c.mu.Unlock()
	err := r.cfg.Store.Group(ctx, func(w *store.Writer) error {
		a, err := w.Agent(c.id)
		if err != nil {
			return nil
		}
		a.LastSeenNS = last.UnixNano()
		return w.PutAgent(a)
	})
	if err != nil && !errors.Is(err, store.ErrClosed) {
		r.log.Warn("record agent last seen", "agent_id", c.id, "error", err)
	}
}

// Send queues a command for a connected agent without waiting.
func (r *Registry) Send(agentID string, m *agentv1.ControlResponse) error {
	r.mu.Lock()
	c := r.conns[agentID]
	r.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNotConnected, agentID)
	}
	select {
	case c.out <- m:
		return nil
	default:
		return fmt.Errorf("%w: %s", ErrOutboxFull, agentID)
	}
}

// Connected reports whether an agent has an open control stream.
func (r *Registry) Connected(agentID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[agentID] != nil
}

// Agent is what the registry knows of an agent.
type Agent struct {
	// ID, Host, Labels, AgentVersion, ServerVersion and Backends are from
	// its Register.
	ID, Host                    string
	Labels                      map[string]string
	AgentVersion, ServerVersion string
	Backends                    []string
	// Connected says whether its control stream is open.
	Connected bool
	// LastSeen is when it was last heard from.
	LastSeen time.Time
	// ServerHealthy, ServerRestarts and SpoolBytes are from its last heartbeat.
	ServerHealthy              bool
	ServerRestarts, SpoolBytes int64
	// ActiveCapture is the capture it is running, if any.
	ActiveCapture string
}

// Connections returns the connected agents that match sel, sorted by id.
func (r *Registry) Connections(sel selector.Selector) []Agent {
	r.mu.Lock()
	conns := slices.Collect(maps.Values(r.conns))
	r.mu.Unlock()
	var out []Agent
	for _, c := range conns {
		if !sel.Matches(c.reg.GetLabels()) {
			continue
		}
		c.mu.Lock()
		a := Agent{
			ID: c.id, Host: c.reg.GetHost(), Labels: c.reg.GetLabels(),
			AgentVersion: c.reg.GetAgentVersion(), ServerVersion: c.reg.GetServerVersion(),
			Backends: c.reg.GetBackends(), Connected: true, LastSeen: c.lastSeen,
			ServerHealthy: c.hb.GetServerHealthy(), ServerRestarts: c.hb.GetServerRestarts(),
			SpoolBytes: c.hb.GetSpoolBytes(), ActiveCapture: c.active,
		}
		c.mu.Unlock()
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// List returns the agents that match sel, sorted by id: the connected ones
// and, with all, those the store remembers.
func (r *Registry) List(ctx context.Context, sel selector.Selector, all bool) ([]Agent, error) {
	out := r.Connections(sel)
	if !all {
		return out, nil
	}
	seen := make(map[string]bool, len(out))
	for _, a := range out {
		seen[a.ID] = true
	}
	err := r.cfg.Store.View(ctx, func(rd *store.Reader) error {
		agents, err := rd.Agents()
		for _, a := range agents {
			if seen[a.ID] || !sel.Matches(a.Labels) {
				continue
			}
			out = append(out, Agent{
				ID: a.ID, Host: a.Host, Labels: a.Labels, AgentVersion: a.AgentVersion,
				ServerVersion: a.ServerVersion, Backends: a.Backends, LastSeen: time.Unix(0, a.LastSeenNS),
			})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
