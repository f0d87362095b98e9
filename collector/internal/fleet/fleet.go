// Package fleet runs fleet captures: one trigger fans out to every matching
// agent at once with a common start time, and each agent's part is tracked
// to a final result (done, busy, failed, unreachable) from its progress
// reports, the ingest of its capture and a per-agent deadline. Agents that
// reconnect mid-capture report their active and pending captures and are
// picked up where they were.
package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Errors.
var (
	// ErrNoAgents means no connected agent matches the selector.
	ErrNoAgents = errors.New("fleet: no connected agent matches the selector")
	// ErrNotFound means no fleet capture has that id (finished ones are
	// forgotten after a while, and on restart).
	ErrNotFound = errors.New("fleet: no such fleet capture")
	// ErrBadRequest means the request's options are out of range.
	ErrBadRequest = errors.New("fleet: bad capture request")
	// ErrStopped means the collector is shutting down.
	ErrStopped = errors.New("fleet: collector shutting down")
	// ErrBusy means as many fleet captures as allowed are running: wait
	// for one to finish (or raise --max-fleet-captures).
	ErrBusy = errors.New("fleet: too many fleet captures running; wait for one to finish")
)

// Defaults for Config and requests.
const (
	// DefaultStartDelay is the wait before the common start.
	DefaultStartDelay = 500 * time.Millisecond
	// DefaultDeadlineSlack is added to the duration for the default per-agent deadline.
	DefaultDeadlineSlack = 2 * time.Minute
	// DefaultRetain is how long a finished fleet capture stays watchable.
	DefaultRetain = time.Hour
	// DefaultMaxRunning bounds the fleet captures running at once.
	DefaultMaxRunning = 16
)

// Agents is what the tracker needs of the registry.
type Agents interface {
	// Connections returns the connected agents that match sel.
	Connections(sel selector.Selector) []registry.Agent
	// Send queues a command for an agent.
	Send(agentID string, m *agentv1.ControlResponse) error
}

// Config configures a Tracker. Agents and Store are required.
type Config struct {
	// Agents finds and commands agents.
	Agents Agents
	// Store keeps each capture's command for ingest.
	Store *store.DB
	// Retain is how long finished fleet captures stay watchable. Zero means DefaultRetain.
	Retain time.Duration
	// Tick is how often deadlines are checked. Zero means 100 ms.
	Tick time.Duration
	// MaxRunning bounds the fleet captures running at once (manual and
	// scheduled); more are refused with ErrBusy. Zero means DefaultMaxRunning.
	MaxRunning int
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Tracker starts and tracks fleet captures. It implements registry.Observer.
type Tracker struct {
	cfg     Config
	log     *slog.Logger
	refused *prometheus.CounterVec

	// mu guards every field below and every part.
	mu        sync.Mutex
	fleets    map[string]*fleetCapture
	byCapture map[string]*part
	starting  int // StartFor calls past the MaxRunning check

	stopped chan struct{} // closed when Run returns
}

type fleetCapture struct {
	id       string
	parts    []*part
	finished time.Time // zero while running
	changed  chan struct{}
}

type part struct {
	fleet    *fleetCapture
	agentID  string
	cmd      *agentv1.CaptureCommand
	result   collectorv1.AgentResult
	state    agentv1.CaptureState
	message  string
	deadline time.Time
	answered bool
}

// New returns a Tracker.
func New(cfg Config) *Tracker {
	factory := promauto.With(cfg.Registerer) // a nil Registerer registers nothing
	if cfg.Retain <= 0 {
		cfg.Retain = DefaultRetain
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = DefaultMaxRunning
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{
		cfg: cfg, log: log.With("component", "fleet"),
		fleets: make(map[string]*fleetCapture), byCapture: make(map[string]*part),
		stopped: make(chan struct{}),
		refused: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_fleet_commits_refused_total",
			Help: "Commits a fleet capture part refused, by reason (not_owner: committed by an agent other than the one commanded).",
		}, []string{"reason"}),
	}
	return t
}

// Start starts a capture on every connected agent that matches the
// request's selector: the commands go out at once, with a common start time
// of now + start delay.
func (t *Tracker) Start(ctx context.Context, req *collectorv1.StartCaptureRequest) (*collectorv1.StartCaptureResponse, error) {
	return t.StartFor(ctx, req, Origin{})
}

// StartFor is Start for an origin other than a person: the captures carry
// its trigger and schedule id, and only its agents (if set) are asked.
func (t *Tracker) StartFor(ctx context.Context, req *collectorv1.StartCaptureRequest, o Origin) (*collectorv1.StartCaptureResponse, error) {
	sel, err := selector.Parse(req.GetSelector())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	opts := req.GetOptions()
	if opts == nil {
		opts = &agentv1.CaptureOptions{}
	}
	if opts.GetDurationMs() < 0 || req.GetStartDelayMs() < 0 || req.GetDeadlineMs() < 0 || opts.GetGapPs() < 0 || opts.GetPadPs() < 0 {
		return nil, fmt.Errorf("%w: durations must not be negative", ErrBadRequest)
	}
	if err := (labels.Limits{}).Check(req.GetLabels()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	agents := o.filter(t.cfg.Agents.Connections(sel))
	if len(agents) == 0 {
		return nil, fmt.Errorf("%w (%q)", ErrNoAgents, req.GetSelector())
	}
	if err := t.admit(); err != nil {
		return nil, err
	}
	defer func() {
		t.mu.Lock()
		t.starting--
		t.mu.Unlock()
	}()
	delay := time.Duration(req.GetStartDelayMs()) * time.Millisecond
	if delay == 0 {
		delay = DefaultStartDelay
	}
	budget := time.Duration(req.GetDeadlineMs()) * time.Millisecond
	if budget == 0 {
		budget = time.Duration(opts.GetDurationMs())*time.Millisecond + DefaultDeadlineSlack
	}
	now := time.Now()
	startAt := now.Add(delay)
	deadline := startAt.Add(budget)
	fleetID := newFleetID(now)
	optBytes, err := proto.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}

	f := &fleetCapture{id: fleetID, changed: make(chan struct{})}
	used := map[string]bool{}
	cmds := make([]*store.Command, 0, len(agents))
	for _, a := range agents {
		cid := captureID(fleetID, a.ID, used)
		cmd := &agentv1.CaptureCommand{
			CaptureId: cid, FleetId: fleetID, Options: opts, Trigger: o.trigger(), ScheduleId: o.ScheduleID,
			StartAt: timestamppb.New(startAt), Deadline: timestamppb.New(deadline),
		}
		f.parts = append(f.parts, &part{
			fleet: f, agentID: a.ID, cmd: cmd, deadline: deadline,
			result: collectorv1.AgentResult_AGENT_RESULT_PENDING, message: "command sent",
		})
		cmds = append(cmds, &store.Command{
			CaptureID: cid, AgentID: a.ID, FleetID: fleetID, Trigger: o.trigger(), ScheduleID: o.ScheduleID,
			Labels: maps.Clone(req.GetLabels()), Options: optBytes, CreatedNS: now.UnixNano(),
			StartNS: startAt.UnixNano(), DeadlineNS: deadline.UnixNano(),
		})
	}
	err = t.cfg.Store.Update(ctx, func(w *store.Writer) error {
		for _, c := range cmds {
			if err := w.PutCommand(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store capture commands: %w", err)
	}

	t.mu.Lock()
	t.fleets[fleetID] = f
	for _, p := range f.parts {
		t.byCapture[p.cmd.GetCaptureId()] = p
	}
	t.mu.Unlock()

	// Fan out: each Send only queues on the agent's own stream, so every
	// agent gets its command at once rather than one after another.
	for _, p := range f.parts {
		msg := &agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Capture{Capture: p.cmd}}
		if err := t.cfg.Agents.Send(p.agentID, msg); err != nil {
			t.update(p, func() {
				p.result, p.message = collectorv1.AgentResult_AGENT_RESULT_UNREACHABLE, err.Error()
			})
		}
	}
	t.log.Info("fleet capture started", "fleet_id", fleetID, "selector", sel.String(), "agents", len(f.parts), "start_at", startAt, "deadline", deadline)
	t.mu.Lock()
	defer t.mu.Unlock()
	return &collectorv1.StartCaptureResponse{FleetId: fleetID, Agents: snapshot(f)}, nil
}

// admit counts a starting fleet capture, or returns ErrBusy when
// MaxRunning are running or starting.
func (t *Tracker) admit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	running := t.starting
	for _, f := range t.fleets {
		if f.finished.IsZero() {
			running++
		}
	}
	if running >= t.cfg.MaxRunning {
		return fmt.Errorf("%w (%d running)", ErrBusy, running)
	}
	t.starting++
	return nil
}

// newFleetID returns a fresh fleet capture id: f-<UTC time>-<random>.
func newFleetID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "f-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// captureID names an agent's capture in a fleet capture: the fleet id and
// the agent id made safe, unique within the fleet.
func captureID(fleetID, agentID string, used map[string]bool) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, agentID)
	safe = safe[:min(len(safe), 128-len(fleetID)-8)]
	id := fleetID + "." + safe
	for n := 2; used[id]; n++ {
		id = fmt.Sprintf("%s.%s-%d", fleetID, safe, n)
	}
	used[id] = true
	return id
}

// final reports whether a result is final.
func final(r collectorv1.AgentResult) bool {
	return r != collectorv1.AgentResult_AGENT_RESULT_PENDING && r != collectorv1.AgentResult_AGENT_RESULT_UNSPECIFIED
}

// update changes p under the lock (unless it is final already) and wakes
// watchers.
func (t *Tracker) update(p *part, fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.updateLocked(p, fn)
}

func (t *Tracker) updateLocked(p *part, fn func()) {
	if final(p.result) {
		return
	}
	fn()
	f := p.fleet
	if final(p.result) {
		t.log.Info("fleet capture part finished", "fleet_id", f.id, "agent_id", p.agentID, "capture_id", p.cmd.GetCaptureId(), "result", p.result.String(), "message", p.message)
		if !slices.ContainsFunc(f.parts, func(q *part) bool { return !final(q.result) }) {
			f.finished = time.Now()
			t.log.Info("fleet capture finished", "fleet_id", f.id)
		}
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// Progress implements registry.Observer.
func (t *Tracker) Progress(agentID string, pr *agentv1.CaptureProgress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.byCapture[pr.GetCaptureId()]
	if p == nil || p.agentID != agentID {
		return
	}
	t.updateLocked(p, func() {
		p.answered = true
		p.state = pr.GetState()
		if m := pr.GetMessage(); m != "" {
			p.message = m
		} else {
			p.message = stateText(pr.GetState())
		}
		switch pr.GetState() {
		case agentv1.CaptureState_CAPTURE_STATE_BUSY:
			p.result = collectorv1.AgentResult_AGENT_RESULT_BUSY
		case agentv1.CaptureState_CAPTURE_STATE_FAILED:
			p.result = collectorv1.AgentResult_AGENT_RESULT_FAILED
			if pr.GetMessage() == "" {
				p.message = "the agent reported a failure without a reason"
			}
		case agentv1.CaptureState_CAPTURE_STATE_DONE:
			p.result = collectorv1.AgentResult_AGENT_RESULT_DONE
		}
	})
}

func stateText(s agentv1.CaptureState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CAPTURE_STATE_"))
}

// Committed is called by ingest when a capture commits. A part is done
// only by the capture of the agent it was commanded to: a commit by another
// agent (ingest refuses those first) is logged, counted and ignored.
func (t *Tracker) Committed(c *store.Capture) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.byCapture[c.ID]
	if p == nil {
		return
	}
	if c.AgentID != p.agentID {
		t.refused.WithLabelValues("not_owner").Inc()
		t.log.Warn("fleet capture part committed by another agent: refused", "fleet_id", p.fleet.id,
			"capture_id", c.ID, "agent_id", c.AgentID, "commanded_agent_id", p.agentID)
		return
	}
	t.updateLocked(p, func() {
		p.answered = true
		p.state = agentv1.CaptureState_CAPTURE_STATE_DONE
		p.result = collectorv1.AgentResult_AGENT_RESULT_DONE
		p.message = "committed"
	})
}

// Disconnected implements registry.Observer: the agent's running parts wait
// for it to come back until their deadline.
func (t *Tracker) Disconnected(agentID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.byCapture {
		if p.agentID == agentID && !final(p.result) {
			t.updateLocked(p, func() { p.message = "agent disconnected; waiting for it to reconnect" })
		}
	}
}

// Connected implements registry.Observer: a reconnecting agent's running
// parts resume from what it reports; a command it never answered is sent
// again.
func (t *Tracker) Connected(agentID string, reg *agentv1.Register) {
	active := map[string]*agentv1.CaptureProgress{}
	for _, a := range reg.GetActive() {
		active[a.GetCaptureId()] = a
	}
	pending := map[string]bool{}
	for _, id := range reg.GetPendingCaptures() {
		pending[id] = true
	}
	var resend []*agentv1.CaptureCommand
	t.mu.Lock()
	for id, p := range t.byCapture {
		if p.agentID != agentID || final(p.result) {
			continue
		}
		t.updateLocked(p, func() {
			switch {
			case active[id] != nil:
				p.answered = true
				p.state = active[id].GetState()
				p.message = "agent reconnected; " + stateText(p.state)
			case pending[id]:
				p.answered = true
				p.state = agentv1.CaptureState_CAPTURE_STATE_UPLOADING
				p.message = "agent reconnected; uploading"
			case p.answered:
				p.result = collectorv1.AgentResult_AGENT_RESULT_FAILED
				p.message = "agent reconnected without the capture (it restarted and lost it)"
			default:
				p.message = "agent reconnected; command sent again"
				resend = append(resend, p.cmd)
			}
		})
	}
	t.mu.Unlock()
	for _, cmd := range resend {
		_ = t.cfg.Agents.Send(agentID, &agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Capture{Capture: cmd}})
	}
}

// Run enforces deadlines and forgets old fleet captures until ctx ends;
// then it ends every Watch. Call it once.
func (t *Tracker) Run(ctx context.Context) error {
	defer close(t.stopped)
	tick := time.NewTicker(t.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			t.sweep(now)
		}
	}
}

// sweep ends the parts past their deadline and forgets old fleet captures.
func (t *Tracker) sweep(now time.Time) {
	type cancel struct{ agent, capture string }
	var cancels []cancel
	t.mu.Lock()
	for id, p := range t.byCapture {
		if final(p.result) || now.Before(p.deadline) {
			continue
		}
		t.updateLocked(p, func() {
			if !p.answered {
				p.result, p.message = collectorv1.AgentResult_AGENT_RESULT_UNREACHABLE, "no answer by the deadline"
				return
			}
			p.result = collectorv1.AgentResult_AGENT_RESULT_FAILED
			p.message = fmt.Sprintf("deadline passed while %s", stateText(p.state))
			cancels = append(cancels, cancel{p.agentID, id})
		})
	}
	for id, f := range t.fleets {
		if !f.finished.IsZero() && now.Sub(f.finished) > t.cfg.Retain {
			delete(t.fleets, id)
			for _, p := range f.parts {
				delete(t.byCapture, p.cmd.GetCaptureId())
			}
		}
	}
	t.mu.Unlock()
	for _, c := range cancels {
		_ = t.cfg.Agents.Send(c.agent, &agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Cancel{Cancel: &agentv1.CancelCapture{CaptureId: c.capture}}})
	}
}

// Watch calls send with the fleet capture's state now and after each
// change, until every part is final (the last call has Done set) or ctx ends.
func (t *Tracker) Watch(ctx context.Context, fleetID string, send func(*collectorv1.WatchFleetCaptureResponse) error) error {
	for {
		t.mu.Lock()
		f := t.fleets[fleetID]
		if f == nil {
			t.mu.Unlock()
			return fmt.Errorf("%w: %q", ErrNotFound, fleetID)
		}
		resp := &collectorv1.WatchFleetCaptureResponse{FleetId: f.id, Agents: snapshot(f), Done: !f.finished.IsZero()}
		changed := f.changed
		t.mu.Unlock()
		if err := send(resp); err != nil {
			return err
		}
		if resp.Done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.stopped:
			return ErrStopped
		case <-changed:
		}
	}
}

// snapshot copies a fleet capture's parts; t.mu must be held.
func snapshot(f *fleetCapture) []*collectorv1.AgentCapture {
	out := make([]*collectorv1.AgentCapture, len(f.parts))
	for i, p := range f.parts {
		out[i] = &collectorv1.AgentCapture{
			AgentId: p.agentID, CaptureId: p.cmd.GetCaptureId(), Result: p.result, State: p.state, Message: p.message,
		}
	}
	return out
}
