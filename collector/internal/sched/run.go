package sched

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Run loads the schedules (applying the missed-run policy) and runs each
// when it is due, until ctx ends. Call it once.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while loading
		}
		return err
	}
	for {
		var timer <-chan time.Time
		if wait, ok := s.runDue(ctx); ok {
			timer = s.clock.After(wait)
		}
		if s.idle != nil {
			s.idle(timer != nil)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer:
		case <-s.wake:
		}
	}
}

// load reads the stored schedules and applies the missed-run policy.
func (s *Scheduler) load(ctx context.Context) error {
	now := s.clock.Now()
	var all []store.Schedule
	err := s.cfg.Store.View(ctx, func(r *store.Reader) (err error) {
		all, err = r.Schedules()
		return err
	})
	if err != nil {
		return fmt.Errorf("load schedules: %w", err)
	}
	var changed []store.Schedule
	s.mu.Lock()
	for _, sc := range all {
		c, err := Parse(sc.Spec)
		if err != nil {
			s.log.Warn("schedule not loaded", "schedule_id", sc.ID, "error", err)
			continue
		}
		catchUp := false
		if !sc.Paused {
			next := time.Unix(0, sc.NextRunNS).UTC()
			switch {
			case sc.NextRunNS == 0:
				sc.NextRunNS = c.Next(now).UnixNano()
				changed = append(changed, sc)
			case next.After(now):
			default:
				missed := countMissed(c, next, now)
				if now.Sub(next) < c.Next(next).Sub(next) {
					catchUp = true
					s.log.Info("schedule missed a run while the collector was down; catching up", "schedule_id", sc.ID, "missed_at", next)
				} else {
					sc.LastResult = fmt.Sprintf("skipped %d missed run(s) while the collector was down (%s to %s)",
						missed, next.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
					sc.NextRunNS = c.Next(now).UnixNano()
					changed = append(changed, sc)
					s.runs.WithLabelValues(OutcomeSkipped).Inc()
					s.log.Info("schedule missed runs while the collector was down; skipped them", "schedule_id", sc.ID, "missed", missed)
				}
			}
		}
		e := s.entryLocked(sc, c)
		if catchUp {
			e.catchUp = true
			e.fireAt = now.Add(s.cfg.CatchUpDelay + s.jitterLocked(sc.JitterNS))
		}
		s.entries[sc.ID] = e
	}
	s.mu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	return s.cfg.Store.Update(ctx, func(w *store.Writer) error {
		for i := range changed {
			if err := s.saveRun(w, &changed[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// countMissed counts the cron times from first up to now.
func countMissed(c interface{ Next(time.Time) time.Time }, first, now time.Time) int {
	n := 0
	for t := first; !t.After(now) && n < maxMissed; t = c.Next(t) {
		n++
	}
	return n
}

// runDue runs every schedule due now and returns the wait until the next
// one (false when none is scheduled).
func (s *Scheduler) runDue(ctx context.Context) (time.Duration, bool) {
	for {
		now := s.clock.Now()
		s.mu.Lock()
		var due *entry
		var next time.Time
		for _, e := range s.entries {
			if e.fireAt.IsZero() {
				continue
			}
			if !e.fireAt.After(now) && (due == nil || e.fireAt.Before(due.fireAt)) {
				due = e
			}
			if next.IsZero() || e.fireAt.Before(next) {
				next = e.fireAt
			}
		}
		if due == nil {
			s.mu.Unlock()
			if next.IsZero() {
				return 0, false
			}
			return next.Sub(now), true
		}
		// Take the run out of the entry, so it runs once.
		sc, dueAt, catchUp := due.s, due.due, due.catchUp
		due.fireAt, due.catchUp = time.Time{}, false
		fleets := slices.Clone(due.fleets)
		s.mu.Unlock()

		r := s.fire(ctx, sc, fleets, dueAt, now, catchUp)
		if ctx.Err() != nil {
			return 0, false
		}
		s.finish(ctx, due, r)
	}
}

// fire runs a schedule once.
func (s *Scheduler) fire(ctx context.Context, sc store.Schedule, fleets []string, dueAt, now time.Time, catchUp bool) Run {
	r := Run{ScheduleID: sc.ID, Due: dueAt, At: now, CatchUp: catchUp}
	if len(sc.Experiment) > 0 {
		return s.fireExperiment(ctx, sc, r)
	}
	inflight := 0
	for _, f := range fleets {
		inflight += s.cfg.Starter.Pending(f)
	}
	sel, err := selector.Parse(sc.Selector)
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, err.Error()
		return r
	}
	switch {
	case sc.SkipIfBusy && inflight > 0:
		r.Outcome, r.Detail = OutcomeSkipped, fmt.Sprintf("skipped: the previous run has %d capture(s) in flight", inflight)
		return r
	case sc.MaxConcurrent > 0 && inflight >= sc.MaxConcurrent:
		r.Outcome, r.Detail = OutcomeSkipped, fmt.Sprintf("skipped: %d capture(s) in flight, at the cap of %d", inflight, sc.MaxConcurrent)
		return r
	}
	candidates := slices.DeleteFunc(s.cfg.Agents.Connections(sel), func(a registry.Agent) bool { return a.ActiveCapture != "" })
	r.Candidates = len(candidates)
	k := SampleSize(len(candidates), sc.SampleFraction, sc.SampleCount)
	if sc.MaxConcurrent > 0 {
		k = min(k, sc.MaxConcurrent-inflight)
	}
	if k == 0 {
		r.Outcome, r.Detail = OutcomeNoAgents, fmt.Sprintf("no idle connected agent matches %q", sc.Selector)
		return r
	}
	s.mu.Lock()
	s.rnd.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	s.mu.Unlock()
	for _, a := range candidates[:k] {
		r.Agents = append(r.Agents, a.ID)
	}
	slices.Sort(r.Agents)

	opts := &agentv1.CaptureOptions{}
	if err := proto.Unmarshal(sc.Options, opts); err != nil {
		r.Outcome, r.Detail = OutcomeFailed, fmt.Sprintf("capture options do not decode: %v", err)
		return r
	}
	req := &collectorv1.StartCaptureRequest{Selector: sc.Selector, Options: opts, Labels: sc.Labels}
	resp, err := s.cfg.Starter.StartFor(ctx, req, fleet.Origin{Trigger: "schedule", ScheduleID: sc.ID, AgentIDs: r.Agents})
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "failed: "+err.Error()
		if errors.Is(err, fleet.ErrNoAgents) {
			r.Outcome = OutcomeNoAgents
		}
		return r
	}
	r.Outcome, r.FleetID = OutcomeStarted, resp.GetFleetId()
	r.Detail = fmt.Sprintf("started %s on %d of %d agent(s)", r.FleetID, len(resp.GetAgents()), r.Candidates)
	if catchUp {
		r.Detail += " (catch-up of a run missed while the collector was down)"
	}
	return r
}

// fireExperiment runs a schedule that starts an experiment: skipped while
// its previous experiment still runs, when it skips if busy.
func (s *Scheduler) fireExperiment(ctx context.Context, sc store.Schedule, r Run) Run {
	exp := s.cfg.Experiments
	if exp == nil {
		r.Outcome, r.Detail = OutcomeFailed, "failed: this collector runs no experiments"
		return r
	}
	if sc.SkipIfBusy && sc.LastExperimentID != "" && exp.Running(ctx, sc.LastExperimentID) {
		r.Outcome, r.Detail = OutcomeSkipped, fmt.Sprintf("skipped: experiment %s is still running", sc.LastExperimentID)
		return r
	}
	spec := &collectorv1.ExperimentSpec{}
	if err := proto.Unmarshal(sc.Experiment, spec); err != nil {
		r.Outcome, r.Detail = OutcomeFailed, fmt.Sprintf("experiment does not decode: %v", err)
		return r
	}
	id, err := exp.StartScheduled(ctx, spec, sc.ID)
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "failed: "+err.Error()
		return r
	}
	r.Outcome, r.ExperimentID = OutcomeStarted, id
	r.Detail = "started experiment " + id
	if r.CatchUp {
		r.Detail += " (catch-up of a run missed while the collector was down)"
	}
	return r
}

// SampleSize is k, how many of n candidates a run asks: min(count, n) with
// a count, ceil(fraction·n) with a fraction (a product within 1e-9 of an
// integer counts as that integer), else n.
func SampleSize(n int, fraction float64, count int) int {
	switch {
	case count > 0:
		return min(count, n)
	case fraction > 0:
		return min(n, int(math.Ceil(fraction*float64(n)-1e-9)))
	}
	return n
}

// finish records a run: the in-flight fleet captures, the next run, and the
// stored record.
func (s *Scheduler) finish(ctx context.Context, e *entry, r Run) {
	s.runs.WithLabelValues(r.Outcome).Inc()
	if r.Outcome == OutcomeStarted {
		s.started.Add(float64(len(r.Agents)))
	}
	var sc store.Schedule
	s.mu.Lock()
	if s.entries[e.s.ID] != e {
		// Removed, paused or resumed meanwhile: that change wins.
		s.mu.Unlock()
		s.report(r)
		return
	}
	e.fleets = slices.DeleteFunc(e.fleets, func(f string) bool { return s.cfg.Starter.Pending(f) == 0 })
	if r.FleetID != "" {
		e.fleets = append(e.fleets, r.FleetID)
	}
	now := s.clock.Now()
	next := e.cron.Next(r.Due)
	if !next.After(now) {
		next = e.cron.Next(now)
	}
	e.due = next
	e.fireAt = next.Add(s.jitterLocked(e.s.JitterNS))
	e.s.LastRunNS, e.s.NextRunNS, e.s.LastResult = r.Due.UnixNano(), next.UnixNano(), r.Detail
	if r.FleetID != "" {
		e.s.LastFleetID = r.FleetID
	}
	if r.ExperimentID != "" {
		e.s.LastExperimentID = r.ExperimentID
	}
	sc = e.s
	s.mu.Unlock()
	err := s.cfg.Store.Update(ctx, func(w *store.Writer) error { return s.saveRun(w, &sc) })
	if err != nil && ctx.Err() == nil {
		s.log.Warn("schedule run not recorded", "schedule_id", sc.ID, "error", err)
	}
	s.log.Info("schedule ran", "schedule_id", r.ScheduleID, "outcome", r.Outcome, "fleet_id", r.FleetID,
		"agents", len(r.Agents), "candidates", r.Candidates, "due", r.Due, "next", next, "detail", r.Detail)
	s.report(r)
}

func (s *Scheduler) report(r Run) {
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(r)
	}
}

// saveRun stores a schedule's run fields, keeping what else changed in the
// store meanwhile (a removed schedule stays removed).
func (s *Scheduler) saveRun(w *store.Writer, sc *store.Schedule) error {
	cur, err := w.Schedule(sc.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Paused {
		sc.NextRunNS = 0
	}
	cur.LastRunNS, cur.NextRunNS, cur.LastResult, cur.LastFleetID = sc.LastRunNS, sc.NextRunNS, sc.LastResult, sc.LastFleetID
	cur.LastExperimentID = sc.LastExperimentID
	return w.PutSchedule(cur)
}
