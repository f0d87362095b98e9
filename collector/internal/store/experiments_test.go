package store

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExperiments(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	put := func(e *Experiment) {
		t.Helper()
		if err := db.Update(ctx, func(w *Writer) error { return w.PutExperiment(e) }); err != nil {
			t.Fatal(err)
		}
	}
	a := &Experiment{ID: "x-a", Spec: []byte{1}, Status: ExperimentRunning, CreatedNS: 20, Cells: []ExperimentCell{
		{Params: map[string]int64{"input_len": 128}, Endpoint: "/v1/score", Status: ExperimentPending},
	}}
	b := &Experiment{ID: "x-b", Status: ExperimentDone, CreatedNS: 10, Cells: []ExperimentCell{}}
	c := &Experiment{ID: "x-c", Status: ExperimentFailed, CreatedNS: 30, Cells: []ExperimentCell{}}
	put(a)
	put(b)
	put(c)
	// An update replaces the record, even one whose time changed.
	a.Cells[0].Status, a.Cells[0].CaptureIDs = ExperimentDone, []string{"cap-1"}
	a.Status = ExperimentDone
	put(a)
	b.CreatedNS = 40
	put(b)

	err := db.View(ctx, func(r *Reader) error {
		got, err := r.Experiment("x-a")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("Experiment(x-a) (-want +got):\n%s", diff)
		}
		all, err := r.Experiments(0, nil)
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range all {
			ids = append(ids, e.ID)
		}
		if want := []string{"x-b", "x-c", "x-a"}; !cmp.Equal(ids, want) {
			t.Errorf("Experiments = %v, want %v (newest first)", ids, want)
		}
		done, err := r.Experiments(1, func(e *Experiment) bool { return e.Status == ExperimentDone })
		if err != nil {
			return err
		}
		if len(done) != 1 || done[0].ID != "x-b" {
			t.Errorf("Experiments(1, done) = %+v, want [x-b]", done)
		}
		if _, err := r.Experiment("x-none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Experiment(x-none) = %v, want ErrNotFound", err)
		}
		if _, err := r.Experiment("../x"); !errors.Is(err, ErrBadID) {
			t.Errorf("Experiment(../x) = %v, want ErrBadID", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(w *Writer) error { return w.PutExperiment(&Experiment{ID: "a/b"}) }); !errors.Is(err, ErrBadID) {
		t.Errorf("PutExperiment(a/b) = %v, want ErrBadID", err)
	}
	if err := db.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestMigrateToExperiments: a version 5 file gains the experiment buckets.
func TestMigrateToExperiments(t *testing.T) {
	db := openAtVersion(t, 5)
	ctx := context.Background()
	err := db.Update(ctx, func(w *Writer) error {
		if v := w.Version(); v != 6 {
			t.Errorf("Version() = %d, want 6", v)
		}
		return w.PutExperiment(&Experiment{ID: "x-1", CreatedNS: 1, Status: ExperimentRunning})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(ctx); err != nil {
		t.Errorf("Check after migration: %v", err)
	}
}
