package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestSchedules(t *testing.T) {
	ctx := context.Background()
	db, tdb := openTest(t)
	put := func(s Schedule) error {
		return db.Update(ctx, func(w *Writer) error { return w.PutSchedule(&s) })
	}
	for _, id := range []string{"s-b", "s-a"} {
		if err := put(Schedule{ID: id, Name: "n " + id, Spec: "@every 10m", SampleFraction: 0.25}); err != nil {
			t.Fatal(err)
		}
	}
	if err := put(Schedule{ID: "a/b"}); !errors.Is(err, ErrBadID) {
		t.Errorf("PutSchedule(a/b) = %v, want ErrBadID", err)
	}
	// Survives a restart, sorted by id.
	db = tdb.reopen()
	var got []string
	err := db.View(ctx, func(r *Reader) error {
		list, err := r.Schedules()
		for _, s := range list {
			got = append(got, fmt.Sprintf("%s:%s:%g", s.ID, s.Spec, s.SampleFraction))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[s-a:@every 10m:0.25 s-b:@every 10m:0.25]"; fmt.Sprint(got) != want {
		t.Errorf("Schedules() = %v, want %v", got, want)
	}
	err = db.Update(ctx, func(w *Writer) error {
		if err := w.DeleteSchedule("s-a"); err != nil {
			return err
		}
		if err := w.DeleteSchedule("s-a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteSchedule = %v, want ErrNotFound", err)
		}
		_, err := w.Schedule("s-a")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Schedule after delete = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationToSchedules(t *testing.T) {
	db := openAtVersion(t, 2)
	ctx := context.Background()
	if err := db.Update(ctx, func(w *Writer) error { return w.PutSchedule(&Schedule{ID: "s1", Spec: "@hourly"}) }); err != nil {
		t.Fatalf("PutSchedule after migrating from version 2: %v", err)
	}
	if err := db.Check(ctx); err != nil {
		t.Error(err)
	}
}
