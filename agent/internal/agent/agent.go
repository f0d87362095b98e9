// Package agent runs captures: one at a time (a second request is answered
// "busy" at once), each through its backend with an optional workload, then
// trimmed, checked, given its context and spooled for upload.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/backend"
	"github.com/fleetprof/fleetprof/agent/internal/hostinfo"
	"github.com/fleetprof/fleetprof/agent/internal/integrity"
	"github.com/fleetprof/fleetprof/agent/internal/metrics"
	"github.com/fleetprof/fleetprof/agent/internal/sglang"
	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/workload"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"

	"github.com/fleetprof/fleetprof/plugins/retry"
)

// Errors.
var (
	// ErrBusy means a capture is already running on this agent.
	ErrBusy = errors.New("agent: busy: a capture is already running on this agent; nothing was queued")
	// ErrNoBackend means the requested backend is not configured.
	ErrNoBackend = errors.New("agent: no such capture backend on this agent")
	// ErrCancelled means the capture was cancelled.
	ErrCancelled = errors.New("agent: capture cancelled")
	// ErrNoServer means a workload was asked for but no model server URL is known.
	ErrNoServer = errors.New("agent: a workload needs the model server's URL (--attach or --wrap)")
)

// LogTail gives the model server's recent output and restarts.
type LogTail interface {
	// Tail returns up to n recent lines.
	Tail(n int) []string
	// Restarts returns how many times the server was restarted.
	Restarts() int64
}

// Options configure an Agent. WorkDir and at least one backend are required.
type Options struct {
	// ID is the agent's id.
	ID string
	// Version is the agent's version.
	Version string
	// WorkDir holds raw profiler output, under raw/<capture id>/.
	WorkDir string
	// Server is the sglang-jax server, for context and workloads; may be nil.
	Server *sglang.Client
	// Backends by name ("http", "grpc").
	Backends map[string]backend.Backend
	// DefaultBackend is used when a spec names none. Empty means "http" if
	// present, else any.
	DefaultBackend string
	// Spool receives finished captures; nil keeps them in the Outcome only.
	Spool *spool.Spool
	// Labels are the agent's labels.
	Labels map[string]string
	// Host is the host's info.
	Host hostinfo.Info
	// Log is the wrapped server's output, if wrapped.
	Log LogTail
	// Progress receives capture progress; nil drops it.
	Progress func(*agentv1.CaptureProgress)
	// Metrics records captures; nil records nothing.
	Metrics *metrics.Metrics
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
	// TailLines is how many server log lines go into the context. Zero means 20.
	TailLines int
	// Defaults fill a collector command's unset options (backend, duration,
	// tracer levels, gap, pad, keep_raw).
	Defaults Spec
}

// Agent runs captures one at a time.
type Agent struct {
	opts Options
	log  *slog.Logger
	cmds chan Spec

	mu     sync.Mutex
	active *active
}

type active struct {
	id     string
	cancel context.CancelFunc
	state  agentv1.CaptureState
}

// New checks the options and returns an Agent.
func New(opts Options) (*Agent, error) {
	if opts.WorkDir == "" {
		return nil, errors.New("agent: WorkDir is required")
	}
	if len(opts.Backends) == 0 {
		return nil, errors.New("agent: no capture backend: give --attach/--wrap (http) or --profiler-addr (grpc)")
	}
	if opts.DefaultBackend == "" {
		if _, ok := opts.Backends["http"]; ok {
			opts.DefaultBackend = "http"
		} else {
			for name := range opts.Backends {
				opts.DefaultBackend = name
			}
		}
	}
	if opts.TailLines <= 0 {
		opts.TailLines = 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{opts: opts, log: log.With("component", "agent"), cmds: make(chan Spec, 1)}, nil
}

// BackendNames lists the configured backends.
func (a *Agent) BackendNames() []string {
	var out []string
	for _, n := range []string{"http", "grpc"} {
		if _, ok := a.opts.Backends[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Active returns the running capture's progress, if any.
func (a *Agent) Active() []*agentv1.CaptureProgress {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == nil {
		return nil
	}
	return []*agentv1.CaptureProgress{{CaptureId: a.active.id, State: a.active.state}}
}

// Run executes the captures the collector sends (through Capture and
// Cancel) until ctx is done.
func (a *Agent) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case spec := <-a.cmds:
			if _, err := a.run(ctx, spec); err != nil {
				a.log.Warn("capture failed", "capture_id", spec.ID, "err", err)
			}
		}
	}
}

// Capture takes a command from the collector: it answers busy at once when
// a capture runs, else hands it to Run.
func (a *Agent) Capture(cmd *agentv1.CaptureCommand) {
	spec := SpecFromCommand(cmd).WithDefaults(a.opts.Defaults)
	// The id becomes a folder under the work dir and a spool file name.
	if err := ids.Check(spec.ID); err != nil {
		a.log.Warn("refused a capture command with a bad capture id", "capture_id", spec.ID)
		a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_FAILED, Message: err.Error()})
		return
	}
	// A command sent again (after a reconnect) is answered with where the
	// capture is, not refused.
	if a.opts.Spool != nil {
		if m, ok := a.opts.Spool.Get(spec.ID); ok {
			a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_UPLOADING,
				Checks: m.Checks, CaptureBytes: m.Bytes, RawBytes: m.RawBytes})
			return
		}
		// One the collector refused for good is not taken again.
		if r, ok := a.opts.Spool.Rejection(spec.ID); ok {
			a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_FAILED,
				Message: "upload rejected: " + r.Reason, Checks: r.Meta.Checks, CaptureBytes: r.Meta.Bytes, RawBytes: r.Meta.RawBytes})
			return
		}
	}
	if p := a.Active(); len(p) == 1 && p[0].GetCaptureId() == spec.ID {
		a.progress(p[0])
		return
	}
	if err := a.acquire(spec.ID); err != nil {
		a.log.Info("refused a capture: busy", "capture_id", spec.ID)
		a.opts.Metrics.Capture("busy")
		a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_BUSY,
			Message: ErrBusy.Error()})
		return
	}
	a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_ACCEPTED})
	select {
	case a.cmds <- spec:
	default: // cannot happen: acquire admits one at a time
		a.release()
	}
}

// Cancel cancels the running capture if its id matches.
func (a *Agent) Cancel(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active != nil && a.active.id == id && a.active.cancel != nil {
		a.active.cancel()
	}
}

// acquire marks a capture as running, or returns ErrBusy.
func (a *Agent) acquire(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active != nil {
		return fmt.Errorf("%w (running %s)", ErrBusy, a.active.id)
	}
	a.active = &active{id: id, state: agentv1.CaptureState_CAPTURE_STATE_ACCEPTED}
	return nil
}

func (a *Agent) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active = nil
}

func (a *Agent) setState(st agentv1.CaptureState, cancel context.CancelFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active != nil {
		a.active.state = st
		if cancel != nil {
			a.active.cancel = cancel
		}
	}
}

func (a *Agent) progress(p *agentv1.CaptureProgress) {
	if a.opts.Progress != nil {
		a.opts.Progress(p)
	}
}

// Outcome is a finished capture.
type Outcome struct {
	// Capture is the trimmed capture with its context.
	Capture *capture.Capture
	// Checks are its integrity findings.
	Checks integrity.Checks
	// RawDir is the raw profiler output.
	RawDir string
	// RawBytes is its size.
	RawBytes int64
	// Meta is the spool entry, when spooled.
	Meta spool.Meta
	// Workload is the workload's report, if one ran.
	Workload *workload.Report
}

// Do runs one capture now (standalone mode), or returns ErrBusy.
func (a *Agent) Do(ctx context.Context, spec Spec) (*Outcome, error) {
	if spec.ID == "" {
		spec.ID = NewID()
	}
	if err := ids.Check(spec.ID); err != nil {
		return nil, err
	}
	if err := a.acquire(spec.ID); err != nil {
		a.opts.Metrics.Capture("busy")
		return nil, err
	}
	return a.run(ctx, spec)
}

// NewID returns a capture id: the UTC time and 4 random bytes.
func NewID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// run takes the capture acquire admitted and releases it.
func (a *Agent) run(ctx context.Context, spec Spec) (*Outcome, error) {
	defer a.release()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.setState(agentv1.CaptureState_CAPTURE_STATE_ACCEPTED, cancel)
	out, err := a.capture(ctx, spec)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", ErrCancelled, err)
		}
		a.opts.Metrics.Capture("failed")
		p := &agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_FAILED, Message: err.Error()}
		if out != nil {
			p.Checks = out.Checks
		}
		a.progress(p)
		return out, err
	}
	return out, nil
}

func (a *Agent) capture(ctx context.Context, spec Spec) (*Outcome, error) {
	name := spec.Backend
	if name == "" {
		name = a.opts.DefaultBackend
	}
	be, ok := a.opts.Backends[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %s)", ErrNoBackend, name, strings.Join(a.BackendNames(), ", "))
	}
	var driver *workload.Driver
	if spec.Workload != nil {
		if a.opts.Server == nil {
			return nil, ErrNoServer
		}
		d, err := workload.New(a.opts.Server, *spec.Workload)
		if err != nil {
			return nil, err
		}
		driver = d
	}
	raw := filepath.Join(a.opts.WorkDir, "raw", spec.ID)
	if err := os.RemoveAll(raw); err != nil {
		return nil, fmt.Errorf("clear %s: %w", raw, err)
	}
	keepRaw := spec.KeepRaw
	spooled := false
	defer func() {
		// Raw output of a failed capture goes; a spooled one's goes after ingest.
		if !spooled && !keepRaw {
			os.RemoveAll(raw)
		}
	}()

	// Warm-ups are not profiled.
	if driver != nil {
		if err := driver.Warmup(ctx); err != nil {
			return nil, fmt.Errorf("warm up: %w", err)
		}
	}
	// Profiling starts at start_at, so the hosts of a fleet capture start
	// within milliseconds of each other (warm-ups go before).
	if !spec.StartAt.IsZero() {
		if wait := time.Until(spec.StartAt); wait > 0 {
			a.log.Info("waiting for the start time", "capture_id", spec.ID, "start_at", spec.StartAt)
			if err := retry.Sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
	pctx := ctx
	if !spec.Deadline.IsZero() {
		var cancel context.CancelFunc
		pctx, cancel = context.WithDeadline(ctx, spec.Deadline)
		defer cancel()
	}
	a.setState(agentv1.CaptureState_CAPTURE_STATE_PROFILING, nil)
	a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_PROFILING})
	req := backend.Request{
		ID: spec.ID, Dir: raw, Duration: spec.Duration, NumSteps: spec.NumSteps,
		HostTracerLevel: spec.HostTracerLevel, DeviceTracerLevel: spec.DeviceTracerLevel, PythonTracerLevel: spec.PythonTracerLevel,
	}
	if driver != nil {
		req.During = driver.Run
	}
	res, err := be.Capture(pctx, req)
	if err != nil {
		return nil, fmt.Errorf("capture with %s: %w", name, err)
	}
	if res.DuringErr != nil {
		a.log.Warn("workload had errors", "capture_id", spec.ID, "err", res.DuringErr)
	}

	a.setState(agentv1.CaptureState_CAPTURE_STATE_TRIMMING, nil)
	a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_TRIMMING, RawBytes: res.RawBytes})
	lres, checks, err := integrity.Load(ctx, res.RunDir, integrity.Options{
		DeviceRequested: spec.deviceRequested(), EmptyTrace: res.EmptyTrace,
		Trim: trim.Options{Gap: spec.Gap, Pad: spec.Pad, SessionNS: sessionNS(res)}, TempDir: a.opts.WorkDir,
	})
	out := &Outcome{Checks: checks, RawDir: raw, RawBytes: res.RawBytes}
	for _, name := range checks.Names() {
		a.opts.Metrics.Check(name)
	}
	if err != nil {
		return out, fmt.Errorf("read %s: %w", res.RunDir, err)
	}
	c := lres.Capture
	out.Capture = c
	c.Context = a.context(ctx, spec, name, res, checks)
	if driver != nil {
		r := driver.Report()
		out.Workload = &r
		for k, v := range r.Context() {
			c.Context[k] = v
		}
		// Each request's send, first byte and end, on the host clock the
		// profiler's host events use, for the requests analyzer.
		c.Requests = r.Requests(c.BaseNS)
		if n := r.Profiled - len(c.Requests); n > 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%d workload request(s) were sent more than %v from the profile's start (its clock disagrees with this host's): left out of the requests", n, workload.MaxSkew))
		}
	}
	if len(checks) > 0 {
		a.log.Warn("capture has integrity findings", "capture_id", spec.ID, "checks", strings.Join(checks.Names(), ","))
	}
	if a.opts.Spool == nil {
		a.opts.Metrics.Capture("done")
		return out, nil
	}
	meta, err := a.opts.Spool.Put(spool.Meta{CaptureID: spec.ID, AgentID: a.opts.ID, Checks: checks,
		RawDir: raw, KeepRaw: keepRaw, RawBytes: res.RawBytes},
		func(w io.Writer) error { return fpcap.Write(w, c) })
	if err != nil {
		return out, fmt.Errorf("spool: %w", err)
	}
	spooled = true
	out.Meta = meta
	a.opts.Metrics.Trimmed(res.RawBytes, meta.Bytes)
	a.opts.Metrics.Capture("spooled")
	a.progress(&agentv1.CaptureProgress{CaptureId: spec.ID, State: agentv1.CaptureState_CAPTURE_STATE_UPLOADING,
		Checks: checks, CaptureBytes: meta.Bytes, RawBytes: res.RawBytes})
	a.log.Info("capture spooled", "capture_id", spec.ID, "raw_bytes", res.RawBytes, "capture_bytes", meta.Bytes,
		"events", c.EventsTotal, "kept", c.EventsKept())
	return out, nil
}

// sessionNS is the profiling session as the agent saw it (from just before
// it started the profiler to just after it stopped), for trimming: idle time
// is counted over the time profiled, not only over the stretch that events
// happen to cover. A session the files record themselves wins over it.
func sessionNS(res *backend.Result) [2]int64 {
	if res.Started.IsZero() || !res.Stopped.After(res.Started) {
		return [2]int64{}
	}
	return [2]int64{res.Started.UnixNano(), res.Stopped.UnixNano()}
}

// Committed is called when the collector committed a capture: the raw
// output is deleted unless kept, and the capture reported done.
func (a *Agent) Committed(m spool.Meta) {
	if m.RawDir != "" && !m.KeepRaw {
		if err := os.RemoveAll(m.RawDir); err != nil {
			a.log.Warn("delete raw profiler output", "capture_id", m.CaptureID, "dir", m.RawDir, "err", err)
		}
	}
	a.opts.Metrics.Capture("done")
	a.progress(&agentv1.CaptureProgress{CaptureId: m.CaptureID, State: agentv1.CaptureState_CAPTURE_STATE_DONE,
		Checks: m.Checks, CaptureBytes: m.Bytes, RawBytes: m.RawBytes})
}
