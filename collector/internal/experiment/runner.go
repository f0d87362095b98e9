package experiment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Labels the runner puts on each cell's captures.
const (
	// LabelExperiment holds the experiment's id.
	LabelExperiment = "experiment"
	// LabelCell holds the cell's index in the experiment, from 0.
	LabelCell = "experiment_cell"
)

// Defaults for Config.
const (
	// DefaultMaxQueued bounds the experiments queued or running.
	DefaultMaxQueued = 8
	// DefaultAnalysisWait bounds the wait for the captures' analyses.
	DefaultAnalysisWait = 10 * time.Minute
	// DefaultRetry is the wait before starting a cell again when every
	// matching agent was busy or too many fleet captures ran.
	DefaultRetry = 2 * time.Second
	// DefaultAttempts bounds the starts of one cell.
	DefaultAttempts = 5
)

// Fleet starts fleet captures and follows them (the fleet tracker).
type Fleet interface {
	// StartFor starts a fleet capture for an origin.
	StartFor(ctx context.Context, req *collectorv1.StartCaptureRequest, o fleet.Origin) (*collectorv1.StartCaptureResponse, error)
	// Watch calls send with the fleet capture's state until it is done.
	Watch(ctx context.Context, fleetID string, send func(*collectorv1.WatchFleetCaptureResponse) error) error
}

// Config configures a Runner. Store and Fleet are required.
type Config struct {
	// Store keeps the experiments and holds the captures' reports.
	Store *store.DB
	// Fleet takes each cell's captures.
	Fleet Fleet
	// MaxQueued bounds the experiments queued or running; more are refused
	// with ErrBusy. Zero means DefaultMaxQueued.
	MaxQueued int
	// AnalysisWait bounds the wait, after the last cell, for the captures'
	// analyses. Zero means DefaultAnalysisWait.
	AnalysisWait time.Duration
	// Poll is how often the analyses are checked. Zero means 200 ms.
	Poll time.Duration
	// Retry is the wait before starting a cell again. Zero means
	// DefaultRetry.
	Retry time.Duration
	// Attempts bounds the starts of one cell. Zero means DefaultAttempts.
	Attempts int
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
}

// Origin says who started an experiment.
type Origin struct {
	// Trigger is "manual" (the default) or "schedule".
	Trigger string
	// ScheduleID is the schedule that started it, if any.
	ScheduleID string
}

// Runner runs experiments one at a time. Its methods are safe for
// concurrent use; Run runs the experiments.
type Runner struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
}

// New returns a Runner.
func New(cfg Config) *Runner {
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.AnalysisWait <= 0 {
		cfg.AnalysisWait = DefaultAnalysisWait
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: log.With("component", "experiment"), wake: make(chan struct{}, 1)}
}

// newID returns a fresh experiment id: x-<UTC time>-<random>.
func newID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "x-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Check validates a spec without starting it (for schedules).
func (r *Runner) Check(spec *collectorv1.ExperimentSpec) error {
	_, err := Validate(spec)
	return err
}

// Start validates and stores an experiment and queues it; Run runs it.
func (r *Runner) Start(ctx context.Context, spec *collectorv1.ExperimentSpec, o Origin) (*store.Experiment, error) {
	cells, err := Validate(spec)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode experiment: %w", err)
	}
	now := time.Now()
	trigger := o.Trigger
	if trigger == "" {
		trigger = "manual"
	}
	e := &store.Experiment{
		ID: newID(now), Spec: raw, Status: store.ExperimentRunning, Message: "queued",
		CreatedNS: now.UnixNano(), Trigger: trigger, ScheduleID: o.ScheduleID,
	}
	for _, c := range cells {
		w, err := proto.Marshal(c.Workload)
		if err != nil {
			return nil, fmt.Errorf("encode workload: %w", err)
		}
		e.Cells = append(e.Cells, store.ExperimentCell{Params: c.Params, Endpoint: c.Endpoint, Workload: w, Status: store.ExperimentPending})
	}
	err = r.cfg.Store.Update(ctx, func(w *store.Writer) error {
		running, err := w.Experiments(0, isRunning)
		if err != nil {
			return err
		}
		if len(running) >= r.cfg.MaxQueued {
			return fmt.Errorf("%w (%d queued or running)", ErrBusy, len(running))
		}
		return w.PutExperiment(e)
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("experiment queued", "experiment_id", e.ID, "cells", len(e.Cells), "selector", spec.GetSelector(), "trigger", trigger)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return e, nil
}

// StartScheduled starts an experiment for a schedule and returns its id
// (sched.Experiments).
func (r *Runner) StartScheduled(ctx context.Context, spec *collectorv1.ExperimentSpec, scheduleID string) (string, error) {
	e, err := r.Start(ctx, spec, Origin{Trigger: "schedule", ScheduleID: scheduleID})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func isRunning(e *store.Experiment) bool { return e.Status == store.ExperimentRunning }

// Get returns an experiment.
func (r *Runner) Get(ctx context.Context, id string) (*store.Experiment, error) {
	var e *store.Experiment
	err := r.cfg.Store.View(ctx, func(rd *store.Reader) (err error) {
		e, err = rd.Experiment(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return e, err
}

// List returns up to limit experiments, newest first.
func (r *Runner) List(ctx context.Context, limit int) ([]store.Experiment, error) {
	var out []store.Experiment
	err := r.cfg.Store.View(ctx, func(rd *store.Reader) (err error) {
		out, err = rd.Experiments(limit, nil)
		return err
	})
	return out, err
}

// Running reports whether an experiment is queued or running.
func (r *Runner) Running(ctx context.Context, id string) bool {
	e, err := r.Get(ctx, id)
	return err == nil && isRunning(e)
}

// Run runs the queued experiments, oldest first, until ctx ends; an
// experiment stopped in the middle resumes at its first unfinished cell
// the next time. Call it once.
func (r *Runner) Run(ctx context.Context) error {
	for {
		var next []store.Experiment
		err := r.cfg.Store.View(ctx, func(rd *store.Reader) (err error) {
			next, err = rd.Experiments(0, isRunning)
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Warn("read the queued experiments", "err", err)
		}
		if err == nil && len(next) > 0 {
			e := next[len(next)-1] // the oldest
			r.run(ctx, &e)
			continue
		}
		t := time.NewTimer(time.Minute)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// save stores e as it is now; it logs a failure (the next save retries).
func (r *Runner) save(ctx context.Context, e *store.Experiment) {
	err := r.cfg.Store.Update(ctx, func(w *store.Writer) error { return w.PutExperiment(e) })
	if err != nil && ctx.Err() == nil {
		r.log.Warn("experiment not saved", "experiment_id", e.ID, "err", err)
	}
}

// run runs one experiment's remaining cells, waits for their analyses and
// marks it finished. It returns early, leaving it running, when ctx ends.
func (r *Runner) run(ctx context.Context, e *store.Experiment) {
	var spec collectorv1.ExperimentSpec
	if err := proto.Unmarshal(e.Spec, &spec); err != nil {
		r.finish(ctx, e, store.ExperimentFailed, fmt.Sprintf("the stored experiment does not decode: %v", err))
		return
	}
	r.log.Info("experiment running", "experiment_id", e.ID, "cells", len(e.Cells))
	for i := range e.Cells {
		c := &e.Cells[i]
		if c.Status == store.ExperimentDone || c.Status == store.ExperimentFailed {
			continue
		}
		e.Message = fmt.Sprintf("capturing cell %d of %d (%s %s)", i+1, len(e.Cells), c.Endpoint, paramText(c.Params))
		err := r.cell(ctx, e, &spec, i)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, fleet.ErrNoAgents) {
			// Nothing matches: the other cells would fail alike.
			for j := i + 1; j < len(e.Cells); j++ {
				e.Cells[j].Status, e.Cells[j].Message = store.ExperimentFailed, "not run: "+c.Message
			}
			r.finish(ctx, e, store.ExperimentFailed, c.Message)
			return
		}
	}
	pending, ok := r.awaitAnalyses(ctx, e)
	if !ok {
		return
	}
	done := 0
	for _, c := range e.Cells {
		if c.Status == store.ExperimentDone {
			done++
		}
	}
	msg := fmt.Sprintf("%d of %d cells captured", done, len(e.Cells))
	if pending > 0 {
		msg += fmt.Sprintf("; %d capture(s) not analyzed after %v", pending, r.cfg.AnalysisWait)
	}
	if done == 0 {
		r.finish(ctx, e, store.ExperimentFailed, msg)
		return
	}
	r.finish(ctx, e, store.ExperimentDone, msg)
}

func (r *Runner) finish(ctx context.Context, e *store.Experiment, status, msg string) {
	e.Status, e.Message, e.FinishedNS = status, msg, time.Now().UnixNano()
	r.save(ctx, e)
	r.log.Info("experiment finished", "experiment_id", e.ID, "status", status, "message", msg)
}

// paramText formats a cell's parameters for people: "input_len=128 batch=4".
func paramText(p map[string]int64) string {
	var parts []string
	for _, k := range []string{ParamInputLen, ParamBatch} {
		if v, ok := p[k]; ok {
			parts = append(parts, k+"="+strconv.FormatInt(v, 10))
		}
	}
	return strings.Join(parts, " ")
}

// cell captures one cell: a fleet capture on every matching agent, started
// again (up to Attempts) while every agent is busy or too many fleet
// captures run. A cell whose fleet capture the collector still follows
// (it restarted while the cell ran) is followed, not started again. It
// returns the error that kept the cell from starting, if any.
func (r *Runner) cell(ctx context.Context, e *store.Experiment, spec *collectorv1.ExperimentSpec, i int) error {
	c := &e.Cells[i]
	if c.Status == store.ExperimentRunning && c.FleetID != "" {
		if last, err := r.watch(ctx, c.FleetID); err == nil {
			r.settle(ctx, e, c, last)
			return nil
		}
	}
	c.Status, c.Message, c.FleetID, c.CaptureIDs = store.ExperimentRunning, "starting", "", nil
	r.save(ctx, e)
	var wl agentv1.Workload
	if err := proto.Unmarshal(c.Workload, &wl); err != nil {
		c.Status, c.Message = store.ExperimentFailed, fmt.Sprintf("the cell's workload does not decode: %v", err)
		r.save(ctx, e)
		return nil
	}
	opts := proto.Clone(spec.GetOptions()).(*agentv1.CaptureOptions)
	if opts == nil {
		opts = &agentv1.CaptureOptions{}
	}
	opts.Workload = &wl
	labels := maps.Clone(spec.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelExperiment], labels[LabelCell] = e.ID, strconv.Itoa(i)
	req := &collectorv1.StartCaptureRequest{Selector: spec.GetSelector(), Options: opts, Labels: labels}
	origin := fleet.Origin{Trigger: "fleet"}
	if e.Trigger == "schedule" {
		origin = fleet.Origin{Trigger: "schedule", ScheduleID: e.ScheduleID}
	}
	for attempt := 1; ; attempt++ {
		resp, err := r.cfg.Fleet.StartFor(ctx, req, origin)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !(errors.Is(err, fleet.ErrBusy) && attempt < r.cfg.Attempts) {
			c.Status, c.Message = store.ExperimentFailed, err.Error()
			r.save(ctx, e)
			r.log.Warn("experiment cell not started", "experiment_id", e.ID, "cell", i, "err", err)
			return err
		}
		if err == nil {
			c.FleetID, c.Message = resp.GetFleetId(), "capturing"
			r.save(ctx, e)
			last, err := r.watch(ctx, c.FleetID)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				c.Status, c.Message = store.ExperimentFailed, fmt.Sprintf("follow fleet capture %s: %v", c.FleetID, err)
				r.save(ctx, e)
				return nil
			}
			if !allBusy(last) || attempt >= r.cfg.Attempts {
				r.settle(ctx, e, c, last)
				return nil
			}
		}
		r.log.Info("experiment cell waits for busy agents", "experiment_id", e.ID, "cell", i, "attempt", attempt)
		t := time.NewTimer(r.cfg.Retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watch follows a fleet capture to its end and returns its last state.
func (r *Runner) watch(ctx context.Context, fleetID string) (*collectorv1.WatchFleetCaptureResponse, error) {
	var last *collectorv1.WatchFleetCaptureResponse
	err := r.cfg.Fleet.Watch(ctx, fleetID, func(resp *collectorv1.WatchFleetCaptureResponse) error {
		last = resp
		return nil
	})
	if err != nil {
		return nil, err
	}
	return last, nil
}

// allBusy reports whether every agent of a fleet capture was busy.
func allBusy(w *collectorv1.WatchFleetCaptureResponse) bool {
	for _, a := range w.GetAgents() {
		if a.GetResult() != collectorv1.AgentResult_AGENT_RESULT_BUSY {
			return false
		}
	}
	return len(w.GetAgents()) > 0
}

// settle records a cell's captures from its fleet capture's final state.
func (r *Runner) settle(ctx context.Context, e *store.Experiment, c *store.ExperimentCell, last *collectorv1.WatchFleetCaptureResponse) {
	var problems []string
	for _, a := range last.GetAgents() {
		if a.GetResult() == collectorv1.AgentResult_AGENT_RESULT_DONE {
			c.CaptureIDs = append(c.CaptureIDs, a.GetCaptureId())
			continue
		}
		res := strings.ToLower(strings.TrimPrefix(a.GetResult().String(), "AGENT_RESULT_"))
		problems = append(problems, fmt.Sprintf("%s %s: %s", a.GetAgentId(), res, a.GetMessage()))
	}
	c.Status, c.Message = store.ExperimentDone, fmt.Sprintf("%d capture(s)", len(c.CaptureIDs))
	if len(c.CaptureIDs) == 0 {
		c.Status = store.ExperimentFailed
	}
	if len(problems) > 0 {
		c.Message += "; " + strings.Join(problems, "; ")
	}
	r.save(ctx, e)
	r.log.Info("experiment cell captured", "experiment_id", e.ID, "fleet_id", c.FleetID, "captures", len(c.CaptureIDs), "status", c.Status)
}

// awaitAnalyses waits until every captured cell's captures are analyzed
// (or their analysis failed), up to AnalysisWait, and returns how many are
// still waiting; false when ctx ended first.
func (r *Runner) awaitAnalyses(ctx context.Context, e *store.Experiment) (int, bool) {
	deadline := time.Now().Add(r.cfg.AnalysisWait)
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		pending := 0
		err := r.cfg.Store.View(ctx, func(rd *store.Reader) error {
			for _, c := range e.Cells {
				for _, id := range c.CaptureIDs {
					rec, err := rd.Capture(id)
					if err == nil && rec.Status == store.StatusCommitted {
						pending++
					}
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			r.log.Warn("check the experiment's analyses", "experiment_id", e.ID, "err", err)
		}
		if pending == 0 || time.Now().After(deadline) {
			return pending, ctx.Err() == nil
		}
		if msg := fmt.Sprintf("waiting for %d analyses", pending); msg != e.Message {
			e.Message = msg
			r.save(ctx, e)
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-t.C:
		}
	}
}
