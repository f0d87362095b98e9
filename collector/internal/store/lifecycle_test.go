package store

import (
	"context"
	"slices"
	"testing"
)

func TestWalkAndDeleteCaptures(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	// Committed out of id order: Walk goes by time.
	for _, c := range []struct {
		id     string
		ns     int64
		backup string
	}{{"c", 30, BackupPending}, {"a", 10, BackupDone}, {"b", 20, ""}, {"d", 40, BackupFailedPrefix + "timeout"}} {
		stage(t, db, c.id, "agent", []byte("data-"+c.id))
		commit(t, db, Capture{ID: c.id, AgentID: "agent", CreatedNS: c.ns, Labels: map[string]string{"model": "m"}, BackupStatus: c.backup})
	}
	walk := func(stopAfter int) []string {
		var got []string
		err := db.View(ctx, func(r *Reader) error {
			return r.Walk(func(c *Capture) bool {
				got = append(got, c.ID)
				return len(got) < stopAfter
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := walk(100), []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Walk = %v, want %v", got, want)
	}
	if got, want := walk(2), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Walk stopped after 2 = %v, want %v", got, want)
	}

	var deleted []Capture
	err := db.Update(ctx, func(w *Writer) error {
		var err error
		deleted, err = w.DeleteCaptures([]string{"a", "b", "c", "d", "gone"}, func(c *Capture) bool { return BackupUnsettled(c.BackupStatus) })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range deleted {
		ids = append(ids, c.ID)
	}
	if want := []string{"a", "b"}; !slices.Equal(ids, want) {
		t.Errorf("DeleteCaptures deleted %v, want %v (c pending and d failed are kept)", ids, want)
	}
	if got, want := walk(100), []string{"c", "d"}; !slices.Equal(got, want) {
		t.Errorf("after delete, Walk = %v, want %v", got, want)
	}
}

func TestBackupUnsettled(t *testing.T) {
	tests := []struct {
		status string
		want   bool
	}{
		{"", false},
		{BackupDone, false},
		{BackupPending, true},
		{BackupFailedPrefix + "gcs: 503", true},
		{"failed", false},
	}
	for _, tt := range tests {
		if got := BackupUnsettled(tt.status); got != tt.want {
			t.Errorf("BackupUnsettled(%q) = %v, want %v", tt.status, got, tt.want)
		}
	}
}
