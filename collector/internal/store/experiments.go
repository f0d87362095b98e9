package store

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Experiment buckets (since version 6): each experiment's record under its
// creation time and id, so a cursor walks them in time order, and its id's
// key.
var (
	bExperiments   = []byte("experiments")
	bExperimentIDs = []byte("experiment_ids")
)

// The states of an experiment and of its cells.
const (
	// ExperimentPending: a cell not started yet.
	ExperimentPending = "pending"
	// ExperimentRunning: an experiment or a cell under way.
	ExperimentRunning = "running"
	// ExperimentDone: finished; a done experiment's cells are done or failed.
	ExperimentDone = "done"
	// ExperimentFailed: could not finish.
	ExperimentFailed = "failed"
)

// Experiment is a stored experiment (see collector/internal/experiment).
type Experiment struct {
	// ID is the experiment's id (ValidID).
	ID string `json:"id"`
	// Spec is a marshalled collector.v1.ExperimentSpec.
	Spec []byte `json:"spec"`
	// Status is ExperimentRunning, ExperimentDone or ExperimentFailed.
	Status string `json:"status"`
	// Message says what it is doing or why it failed, for people.
	Message string `json:"message,omitempty"`
	// CreatedNS is when it was started, epoch ns.
	CreatedNS int64 `json:"created_ns"`
	// FinishedNS is when it finished, epoch ns; 0 while running.
	FinishedNS int64 `json:"finished_ns,omitempty"`
	// Trigger is "manual" or "schedule".
	Trigger string `json:"trigger,omitempty"`
	// ScheduleID is the schedule that started it, if any.
	ScheduleID string `json:"schedule_id,omitempty"`
	// Cells are its cells in running order.
	Cells []ExperimentCell `json:"cells"`
}

// ExperimentCell is one cell of an experiment.
type ExperimentCell struct {
	// Params are the varied parameters' values.
	Params map[string]int64 `json:"params"`
	// Endpoint is the endpoint.
	Endpoint string `json:"endpoint"`
	// Workload is a marshalled agent.v1.Workload: what the cell sends.
	Workload []byte `json:"workload,omitempty"`
	// FleetID is the fleet capture that took the cell.
	FleetID string `json:"fleet_id,omitempty"`
	// CaptureIDs are its committed captures.
	CaptureIDs []string `json:"capture_ids,omitempty"`
	// Status is ExperimentPending, ExperimentRunning, ExperimentDone or
	// ExperimentFailed.
	Status string `json:"status"`
	// Message is for people.
	Message string `json:"message,omitempty"`
}

// PutExperiment stores an experiment, replacing the one with its id.
func (w *Writer) PutExperiment(e *Experiment) error {
	if !ValidID(e.ID) {
		return fmt.Errorf("put experiment %q: %w", e.ID, ErrBadID)
	}
	k := captureKey(e.CreatedNS, e.ID)
	if old := w.tx.Bucket(bExperimentIDs).Get([]byte(e.ID)); old != nil && !bytes.Equal(old, k) {
		if err := w.tx.Bucket(bExperiments).Delete(old); err != nil {
			return fmt.Errorf("put experiment %q: %w", e.ID, err)
		}
	}
	if err := w.put(bExperiments, k, e); err != nil {
		return fmt.Errorf("put experiment %q: %w", e.ID, err)
	}
	return w.tx.Bucket(bExperimentIDs).Put([]byte(e.ID), k)
}

// Experiment returns an experiment.
func (r *Reader) Experiment(id string) (*Experiment, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("experiment %q: %w", id, ErrBadID)
	}
	k := r.tx.Bucket(bExperimentIDs).Get([]byte(id))
	if k == nil {
		return nil, fmt.Errorf("experiment %q: %w", id, ErrNotFound)
	}
	var e Experiment
	if err := r.get(bExperiments, k, &e); err != nil {
		return nil, fmt.Errorf("experiment %q: %w", id, err)
	}
	return &e, nil
}

// Experiments returns up to limit experiments (all when limit ≤ 0) that
// keep accepts (all when nil), newest first.
func (r *Reader) Experiments(limit int, keep func(*Experiment) bool) ([]Experiment, error) {
	var out []Experiment
	c := r.tx.Bucket(bExperiments).Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var e Experiment
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("%w: experiment %q: %v", ErrCorrupt, keyID(k), err)
		}
		if keep == nil || keep(&e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// checkExperiments reports experiments that do not parse or sit under
// another key, and id entries that point at no experiment.
func (r *Reader) checkExperiments() []error {
	var errs []error
	ids := r.tx.Bucket(bExperimentIDs)
	n := 0
	_ = r.tx.Bucket(bExperiments).ForEach(func(k, v []byte) error {
		n++
		var e Experiment
		if err := json.Unmarshal(v, &e); err != nil {
			errs = append(errs, fmt.Errorf("experiment %x: %v", k, err))
			return nil
		}
		if !bytes.Equal(k, captureKey(e.CreatedNS, e.ID)) {
			errs = append(errs, fmt.Errorf("experiment %q stored under key %x", e.ID, k))
		}
		if got := ids.Get([]byte(e.ID)); !bytes.Equal(got, k) {
			errs = append(errs, fmt.Errorf("experiment %q: id entry %x, want %x", e.ID, got, k))
		}
		return nil
	})
	m := 0
	_ = ids.ForEach(func(_, _ []byte) error { m++; return nil })
	if m != n {
		errs = append(errs, fmt.Errorf("%d experiment id entries for %d experiments", m, n))
	}
	return errs
}
