// Package sched runs capture schedules: each schedule has a cron spec, a
// label selector, capture options, a random delay before each run (jitter),
// a cap on its captures in flight, skip-if-busy, and a sample (profile a
// random k of the N matching agents). Schedules live in the store; each run
// fans out through the fleet tracker with trigger "schedule" and the
// schedule's id, so every capture says which schedule made it.
//
// # Who is asked
//
// A run's candidates are the connected agents that match the selector and
// are not running a capture. Of N candidates it picks k at random: with
// SampleCount c, k = min(c, N); with SampleFraction f, k = ceil(f·N); with
// neither, k = N. With MaxConcurrent m, k is cut to m minus the schedule's
// captures still in flight. With SkipIfBusy, a run is skipped while the
// previous runs have captures in flight.
//
// # Missed runs
//
// The next run's time is stored. When the collector starts and that time is
// past (it was down), a schedule gets one catch-up run at once if the missed
// time is less than one interval ago (the interval being the time from it to
// the run after it), and otherwise skips every missed run. The catch-up run
// waits Config.CatchUpDelay (and its jitter) so agents have reconnected. Either way the
// next run is the first cron time after now. Paused schedules never catch up.
package sched

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Errors.
var (
	// ErrBadSchedule means a schedule's fields are out of range.
	ErrBadSchedule = errors.New("sched: bad schedule")
	// ErrNotFound means no schedule has that id or name.
	ErrNotFound = errors.New("sched: no such schedule")
	// ErrExists means another schedule has that name.
	ErrExists = errors.New("sched: a schedule with that name exists")
)

// maxMissed bounds the missed run times counted on start.
const maxMissed = 100_000

// DefaultCatchUpDelay is Config.CatchUpDelay's default: agents reconnect
// within a few heartbeats of a collector restart.
const DefaultCatchUpDelay = 30 * time.Second

// Agents is what the scheduler needs of the registry.
type Agents interface {
	// Connections returns the connected agents that match sel.
	Connections(sel selector.Selector) []registry.Agent
}

// Starter starts fleet captures and tells how many are in flight (the
// fleet tracker).
type Starter interface {
	// StartFor starts a fleet capture for an origin.
	StartFor(ctx context.Context, req *collectorv1.StartCaptureRequest, o fleet.Origin) (*collectorv1.StartCaptureResponse, error)
	// Pending returns a fleet capture's captures without a final result.
	Pending(fleetID string) int
}

// Experiments starts the experiments of schedules that run one (the
// experiment runner).
type Experiments interface {
	// Check validates an experiment without starting it.
	Check(spec *collectorv1.ExperimentSpec) error
	// StartScheduled starts an experiment for a schedule and returns its id.
	StartScheduled(ctx context.Context, spec *collectorv1.ExperimentSpec, scheduleID string) (string, error)
	// Running reports whether an experiment is queued or running.
	Running(ctx context.Context, id string) bool
}

// Config configures a Scheduler. Store, Agents and Starter are required.
type Config struct {
	// Store keeps the schedules.
	Store *store.DB
	// Agents finds the candidates of a run.
	Agents Agents
	// Starter starts each run's captures.
	Starter Starter
	// Experiments starts the runs of schedules that run an experiment. Nil
	// refuses such schedules.
	Experiments Experiments
	// Clock is the time. Nil means the wall clock.
	Clock Clock
	// CatchUpDelay is the wait before a catch-up run at start, so agents
	// have reconnected. Zero means DefaultCatchUpDelay.
	CatchUpDelay time.Duration
	// Rand draws jitter and samples. Nil means a randomly seeded source.
	Rand *mrand.Rand
	// OnRun, if set, is called after each run with its outcome (for tests
	// and tools); it must not block.
	OnRun func(Run)
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Outcomes of a run.
const (
	// OutcomeStarted: a fleet capture started.
	OutcomeStarted = "started"
	// OutcomeSkipped: nothing started (busy, at the cap, or missed runs).
	OutcomeSkipped = "skipped"
	// OutcomeNoAgents: no idle connected agent matched.
	OutcomeNoAgents = "no_agents"
	// OutcomeFailed: the fleet capture did not start.
	OutcomeFailed = "failed"
)

// Run is what one run of a schedule did.
type Run struct {
	// ScheduleID is the schedule.
	ScheduleID string
	// Due is the cron time of the run.
	Due time.Time
	// At is when it ran (Due plus jitter, or later).
	At time.Time
	// CatchUp is set for the catch-up run of a missed time.
	CatchUp bool
	// Outcome is one of the Outcome constants.
	Outcome string
	// Candidates is N, the idle matching agents; Agents are the ones asked.
	Candidates int
	Agents     []string
	// FleetID is the fleet capture started, if any.
	FleetID string
	// ExperimentID is the experiment started, if any (a schedule that runs
	// an experiment).
	ExperimentID string
	// Detail says what happened, for people.
	Detail string
}

// Scheduler runs schedules. Its methods are safe for concurrent use.
type Scheduler struct {
	cfg     Config
	log     *slog.Logger
	clock   Clock
	wake    chan struct{}
	runs    *prometheus.CounterVec
	started prometheus.Counter

	// mu guards the fields below.
	mu      sync.Mutex
	rnd     *mrand.Rand
	entries map[string]*entry

	idle func(timer bool) // tests: called each time the loop waits, with or without a timer
}

// entry is a schedule as the loop sees it.
type entry struct {
	s       store.Schedule
	cron    cron.Schedule
	due     time.Time // the cron time of the next run; zero when paused
	fireAt  time.Time // due plus jitter
	catchUp bool
	fleets  []string // fleet captures that may still be in flight
}

// New returns a Scheduler; Run runs it.
func New(cfg Config) *Scheduler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.CatchUpDelay <= 0 {
		cfg.CatchUpDelay = DefaultCatchUpDelay
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	rnd := cfg.Rand
	if rnd == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		rnd = mrand.New(mrand.NewPCG(binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:])))
	}
	s := &Scheduler{
		cfg: cfg, log: log.With("component", "sched"), clock: clock, rnd: rnd,
		wake: make(chan struct{}, 1), entries: map[string]*entry{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_schedule_runs_total", Help: "Schedule runs by outcome.",
		}, []string{"outcome"}),
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_schedule_captures_total", Help: "Captures started by schedules.",
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.runs, s.started)
	}
	return s
}

// Parse parses a cron spec: five fields (minute hour day-of-month month
// day-of-week) or a descriptor (@hourly, @daily, @every 10m, …).
func Parse(spec string) (cron.Schedule, error) {
	c, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: cron spec %q: %v", ErrBadSchedule, spec, err)
	}
	return c, nil
}

// validate checks a schedule's fields and returns its parsed cron spec.
func validate(s *store.Schedule) (cron.Schedule, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSchedule, fmt.Sprintf(format, args...))
	}
	switch {
	case strings.TrimSpace(s.Name) == "":
		return nil, bad("name is required")
	case len(s.Name) > 200:
		return nil, bad("name is %d bytes; at most 200", len(s.Name))
	case s.JitterNS < 0:
		return nil, bad("jitter must not be negative")
	case s.MaxConcurrent < 0:
		return nil, bad("max concurrent must not be negative")
	case s.SampleFraction < 0 || s.SampleFraction > 1:
		return nil, bad("sample fraction %g is outside (0, 1]", s.SampleFraction)
	case s.SampleCount < 0:
		return nil, bad("sample count must not be negative")
	case s.SampleFraction > 0 && s.SampleCount > 0:
		return nil, bad("give a sample fraction or a sample count, not both")
	}
	if _, err := selector.Parse(s.Selector); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSchedule, err)
	}
	if err := (labels.Limits{}).Check(s.Labels); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSchedule, err)
	}
	var opts agentv1.CaptureOptions
	if err := proto.Unmarshal(s.Options, &opts); err != nil {
		return nil, bad("capture options do not decode: %v", err)
	}
	if opts.GetDurationMs() < 0 || opts.GetGapPs() < 0 || opts.GetPadPs() < 0 {
		return nil, bad("capture durations must not be negative")
	}
	return Parse(s.Spec)
}

// checkExperiment validates a schedule's experiment, if it has one, with
// exp.
func checkExperiment(s *store.Schedule, exp Experiments) error {
	if len(s.Experiment) == 0 {
		return nil
	}
	spec := &collectorv1.ExperimentSpec{}
	if err := proto.Unmarshal(s.Experiment, spec); err != nil {
		return fmt.Errorf("%w: experiment does not decode: %v", ErrBadSchedule, err)
	}
	if exp == nil {
		return fmt.Errorf("%w: this collector runs no experiments", ErrBadSchedule)
	}
	if err := exp.Check(spec); err != nil {
		return fmt.Errorf("%w: experiment: %w", ErrBadSchedule, err)
	}
	return nil
}

// newID returns a fresh schedule id: s-<8 hex digits>.
func newID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "s-" + hex.EncodeToString(b[:])
}

// Add validates and stores a new schedule. Its ID (if empty), CreatedNS and
// run fields are set here; its next run is the first cron time after now.
func (s *Scheduler) Add(ctx context.Context, in store.Schedule) (store.Schedule, error) {
	c, err := validate(&in)
	if err != nil {
		return store.Schedule{}, err
	}
	if err := checkExperiment(&in, s.cfg.Experiments); err != nil {
		return store.Schedule{}, err
	}
	if in.ID == "" {
		in.ID = newID()
	}
	if !store.ValidID(in.ID) {
		return store.Schedule{}, fmt.Errorf("%w: id %q: %w", ErrBadSchedule, in.ID, store.ErrBadID)
	}
	now := s.clock.Now()
	in.CreatedNS = now.UnixNano()
	in.LastRunNS, in.LastResult, in.LastFleetID, in.NextRunNS, in.LastExperimentID = 0, "", "", 0, ""
	in.Labels = maps.Clone(in.Labels)
	if !in.Paused {
		in.NextRunNS = c.Next(now).UnixNano()
	}
	err = s.cfg.Store.Update(ctx, func(w *store.Writer) error {
		all, err := w.Schedules()
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID == in.ID {
				return fmt.Errorf("%w: id %q", ErrExists, in.ID)
			}
			if o.Name == in.Name {
				return fmt.Errorf("%w: %q (%s)", ErrExists, in.Name, o.ID)
			}
		}
		return w.PutSchedule(&in)
	})
	if err != nil {
		return store.Schedule{}, err
	}
	s.mu.Lock()
	s.entries[in.ID] = s.entryLocked(in, c)
	s.mu.Unlock()
	s.poke()
	s.log.Info("schedule added", "schedule_id", in.ID, "name", in.Name, "spec", in.Spec, "selector", in.Selector)
	return in, nil
}

// entryLocked makes a schedule's entry, drawing its jitter; s.mu is held.
func (s *Scheduler) entryLocked(sc store.Schedule, c cron.Schedule) *entry {
	e := &entry{s: sc, cron: c}
	if old := s.entries[sc.ID]; old != nil {
		e.fleets = old.fleets
	}
	if !sc.Paused && sc.NextRunNS != 0 {
		e.due = time.Unix(0, sc.NextRunNS).UTC()
		e.fireAt = e.due.Add(s.jitterLocked(sc.JitterNS))
	}
	return e
}

// jitterLocked draws a delay in [0, j); s.mu is held.
func (s *Scheduler) jitterLocked(j int64) time.Duration {
	if j <= 0 {
		return 0
	}
	return time.Duration(s.rnd.Int64N(j))
}

// poke wakes the loop to look at the schedules again.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// List returns every schedule, sorted by name then id.
func (s *Scheduler) List(ctx context.Context) ([]store.Schedule, error) {
	var out []store.Schedule
	err := s.cfg.Store.View(ctx, func(r *store.Reader) (err error) {
		out, err = r.Schedules()
		return err
	})
	slices.SortFunc(out, func(a, b store.Schedule) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out, err
}

// resolve finds a schedule by id, else by name.
func resolve(r *store.Reader, ref string) (*store.Schedule, error) {
	if sc, err := r.Schedule(ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return sc, err
	}
	all, err := r.Schedules()
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == ref {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNotFound, ref)
}

// Get returns a schedule by id or name.
func (s *Scheduler) Get(ctx context.Context, ref string) (store.Schedule, error) {
	var out store.Schedule
	err := s.cfg.Store.View(ctx, func(r *store.Reader) error {
		sc, err := resolve(r, ref)
		if err != nil {
			return err
		}
		out = *sc
		return nil
	})
	return out, err
}

// Remove deletes a schedule (by id or name). Its captures in flight go on.
func (s *Scheduler) Remove(ctx context.Context, ref string) (store.Schedule, error) {
	var out store.Schedule
	err := s.cfg.Store.Update(ctx, func(w *store.Writer) error {
		sc, err := resolve(&w.Reader, ref)
		if err != nil {
			return err
		}
		out = *sc
		return w.DeleteSchedule(sc.ID)
	})
	if err != nil {
		return store.Schedule{}, err
	}
	s.mu.Lock()
	delete(s.entries, out.ID)
	s.mu.Unlock()
	s.poke()
	s.log.Info("schedule removed", "schedule_id", out.ID, "name", out.Name)
	return out, nil
}

// Pause stops a schedule's runs until Resume.
func (s *Scheduler) Pause(ctx context.Context, ref string) (store.Schedule, error) {
	return s.setPaused(ctx, ref, true)
}

// Resume restarts a paused schedule: its next run is the first cron time
// after now (paused times are not caught up).
func (s *Scheduler) Resume(ctx context.Context, ref string) (store.Schedule, error) {
	return s.setPaused(ctx, ref, false)
}

func (s *Scheduler) setPaused(ctx context.Context, ref string, paused bool) (store.Schedule, error) {
	var out store.Schedule
	var c cron.Schedule
	now := s.clock.Now()
	err := s.cfg.Store.Update(ctx, func(w *store.Writer) error {
		sc, err := resolve(&w.Reader, ref)
		if err != nil {
			return err
		}
		if c, err = Parse(sc.Spec); err != nil {
			return err
		}
		if sc.Paused == paused {
			out = *sc
			return nil
		}
		sc.Paused = paused
		sc.NextRunNS = 0
		if !paused {
			sc.NextRunNS = c.Next(now).UnixNano()
		}
		out = *sc
		return w.PutSchedule(sc)
	})
	if err != nil {
		return store.Schedule{}, err
	}
	s.mu.Lock()
	s.entries[out.ID] = s.entryLocked(out, c)
	s.mu.Unlock()
	s.poke()
	s.log.Info("schedule paused or resumed", "schedule_id", out.ID, "paused", paused)
	return out, nil
}
