package store

import (
	"encoding/json"
	"fmt"
)

// Schedule is a stored capture schedule (see collector/internal/sched).
type Schedule struct {
	// ID is the schedule's id (ValidID).
	ID string `json:"id"`
	// Name is a name for people.
	Name string `json:"name"`
	// Spec is the cron spec: five fields or a descriptor such as "@every 10m".
	Spec string `json:"spec"`
	// Selector selects the agents (selector syntax).
	Selector string `json:"selector,omitempty"`
	// Options are a marshalled agent.v1.CaptureOptions.
	Options []byte `json:"options,omitempty"`
	// Labels are put on the schedule's captures.
	Labels map[string]string `json:"labels,omitempty"`
	// JitterNS is the largest random delay before each run, in ns.
	JitterNS int64 `json:"jitter_ns,omitempty"`
	// MaxConcurrent bounds the schedule's captures in flight; 0 means no bound.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// SkipIfBusy skips a run while the previous one has captures in flight.
	SkipIfBusy bool `json:"skip_if_busy,omitempty"`
	// SampleFraction profiles ceil(fraction·N) of N matching agents; 0 means
	// unset.
	SampleFraction float64 `json:"sample_fraction,omitempty"`
	// SampleCount profiles min(count, N) of N matching agents; 0 means unset.
	SampleCount int `json:"sample_count,omitempty"`
	// Paused schedules do not run.
	Paused bool `json:"paused,omitempty"`
	// CreatedNS is when it was added, epoch ns.
	CreatedNS int64 `json:"created_ns"`
	// LastRunNS is the scheduled time of the last run, epoch ns; 0 if none.
	LastRunNS int64 `json:"last_run_ns,omitempty"`
	// NextRunNS is the scheduled time of the next run, epoch ns.
	NextRunNS int64 `json:"next_run_ns,omitempty"`
	// LastResult says what the last run did, for people.
	LastResult string `json:"last_result,omitempty"`
	// LastFleetID is the fleet capture of the last run that started one.
	LastFleetID string `json:"last_fleet_id,omitempty"`
	// Experiment, if set, is a marshalled collector.v1.ExperimentSpec: each
	// run starts that experiment instead of one fleet capture.
	Experiment []byte `json:"experiment,omitempty"`
	// LastExperimentID is the experiment of the last run that started one.
	LastExperimentID string `json:"last_experiment_id,omitempty"`
}

// Schedule returns a schedule.
func (r *Reader) Schedule(id string) (*Schedule, error) {
	var s Schedule
	if err := r.get(bSchedules, []byte(id), &s); err != nil {
		return nil, fmt.Errorf("schedule %q: %w", id, err)
	}
	return &s, nil
}

// Schedules returns every schedule, sorted by id.
func (r *Reader) Schedules() ([]Schedule, error) {
	var out []Schedule
	err := r.tx.Bucket(bSchedules).ForEach(func(k, v []byte) error {
		var s Schedule
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%w: schedule %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// PutSchedule stores a schedule, replacing one with the same id.
func (w *Writer) PutSchedule(s *Schedule) error {
	if !ValidID(s.ID) {
		return fmt.Errorf("put schedule %q: %w", s.ID, ErrBadID)
	}
	return w.put(bSchedules, []byte(s.ID), s)
}

// DeleteSchedule removes a schedule; ErrNotFound if there is none.
func (w *Writer) DeleteSchedule(id string) error {
	b := w.tx.Bucket(bSchedules)
	if b.Get([]byte(id)) == nil {
		return fmt.Errorf("schedule %q: %w", id, ErrNotFound)
	}
	return b.Delete([]byte(id))
}

// checkSchedules reports schedules that do not parse or sit under another id.
func (r *Reader) checkSchedules() []error {
	var errs []error
	_ = r.tx.Bucket(bSchedules).ForEach(func(k, v []byte) error {
		var s Schedule
		if err := json.Unmarshal(v, &s); err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: %v", k, err))
		} else if s.ID != string(k) {
			errs = append(errs, fmt.Errorf("schedule %q stored under key %q", s.ID, k))
		}
		return nil
	})
	return errs
}
