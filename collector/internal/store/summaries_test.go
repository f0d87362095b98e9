package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// commitAt commits a one-chunk capture with the given agent, fleet and
// commit time.
func commitAt(t *testing.T, db *DB, id, agent, fleet string, ns int64) {
	t.Helper()
	stage(t, db, id, agent, []byte("data-"+id))
	commit(t, db, Capture{ID: id, AgentID: agent, FleetID: fleet, CreatedNS: ns})
}

func TestSummaries(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	commitAt(t, db, "a1", "a", "f1", 100)
	commitAt(t, db, "b1", "b", "f1", 101)
	commitAt(t, db, "a2", "a", "", 200)
	commitAt(t, db, "a3", "a", "f2", 300)
	commitAt(t, db, "nosum", "a", "f2", 400)
	err := db.Update(ctx, func(w *Writer) error {
		for _, id := range []string{"a1", "b1", "a2", "a3"} {
			if err := w.PutSummary(id, []byte("sum-"+id)); err != nil {
				return err
			}
		}
		return w.PutSummary("ghost", []byte("x"))
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutSummary(ghost) = %v, want ErrNotFound", err)
	}
	err = db.Update(ctx, func(w *Writer) error {
		for _, id := range []string{"a1", "b1", "a2", "a3"} {
			if err := w.PutSummary(id, []byte("sum-"+id)); err != nil {
				return err
			}
		}
		return w.PutSummary("a1", []byte("sum-a1")) // replacing is fine
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(r *Reader) error {
		var got []string
		_ = r.WalkSummaries(101, 400, func(id string, ns int64, data []byte) bool {
			got = append(got, fmt.Sprintf("%s@%d=%s", id, ns, data))
			return true
		})
		if diff := cmp.Diff([]string{"b1@101=sum-b1", "a2@200=sum-a2", "a3@300=sum-a3"}, got); diff != "" {
			t.Errorf("WalkSummaries(101, 400) (-want +got):\n%s", diff)
		}
		got = nil
		_ = r.FleetSummaries("f1", func(id string, data []byte) bool { got = append(got, id); return true })
		if diff := cmp.Diff([]string{"a1", "b1"}, got); diff != "" {
			t.Errorf("FleetSummaries(f1) (-want +got):\n%s", diff)
		}
		got = nil
		_ = r.FleetSummaries("f", func(id string, data []byte) bool { got = append(got, id); return true })
		if len(got) != 0 {
			t.Errorf("FleetSummaries(f) = %v, want none (a prefix of f1 is not f1)", got)
		}
		for _, tt := range []struct {
			before int64
			want   []string
		}{{0, []string{"a3", "a2", "a1"}}, {300, []string{"a2", "a1"}}, {301, []string{"a3", "a2", "a1"}}, {100, nil}} {
			got = nil
			_ = r.AgentSummaries("a", tt.before, func(id string, _ int64, _ []byte) bool { got = append(got, id); return true })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AgentSummaries(a, %d) (-want +got):\n%s", tt.before, diff)
			}
		}
		got = nil
		_ = r.AgentSummaries("a", 0, func(id string, _ int64, _ []byte) bool { got = append(got, id); return len(got) < 2 })
		if len(got) != 2 {
			t.Errorf("AgentSummaries stopped after %v, want 2", got)
		}
		if b, err := r.Summary("a2"); err != nil || string(b) != "sum-a2" {
			t.Errorf("Summary(a2) = %q, %v", b, err)
		}
		if _, err := r.Summary("nosum"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Summary(nosum) err = %v, want ErrNotFound", err)
		}
		if _, err := r.Summary("../x"); !errors.Is(err, ErrBadID) {
			t.Errorf("Summary(../x) err = %v, want ErrBadID", err)
		}
		if !r.HasSummary("a1") || r.HasSummary("nosum") {
			t.Error("HasSummary wrong")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Deleting a capture deletes its summary, index entry and changes.
	err = db.Update(ctx, func(w *Writer) error {
		if err := w.PutChanges("a1", [][]byte{[]byte("c0"), []byte("c1")}); err != nil {
			return err
		}
		return w.DeleteCapture("a1")
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(r *Reader) error {
		var got []string
		_ = r.FleetSummaries("f1", func(id string, _ []byte) bool { got = append(got, id); return true })
		_ = r.WalkChanges(0, func(id string, _ []byte) bool { got = append(got, "change "+id); return true })
		if diff := cmp.Diff([]string{"b1"}, got); diff != "" {
			t.Errorf("after deleting a1 (-want +got):\n%s", diff)
		}
		return nil
	})
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	// "a" and "ab" share a prefix: their changes must never mix.
	commitAt(t, db, "a", "x", "", 100)
	commitAt(t, db, "ab", "x", "", 100)
	commitAt(t, db, "c", "x", "", 200)
	commitAt(t, db, "d", "x", "", 300)
	err := db.Update(ctx, func(w *Writer) error {
		for id, n := range map[string]int{"a": 2, "ab": 1, "c": 3, "d": 0} {
			var cs [][]byte
			for i := range n {
				cs = append(cs, fmt.Appendf(nil, "%s%d", id, i))
			}
			if err := w.PutChanges(id, cs); err != nil {
				return err
			}
		}
		// Replacing shrinks: c keeps 1 of its 3.
		return w.PutChanges("c", [][]byte{[]byte("c-new")})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(r *Reader) error {
		for _, tt := range []struct {
			since int64
			limit int
			want  []string
		}{
			{0, 100, []string{"c:c-new", "ab:ab0", "a:a0", "a:a1"}},
			{150, 100, []string{"c:c-new"}},
			{0, 2, []string{"c:c-new", "ab:ab0"}},
			{400, 100, nil},
		} {
			var got []string
			_ = r.WalkChanges(tt.since, func(id string, data []byte) bool {
				got = append(got, id+":"+string(data))
				return len(got) < tt.limit
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("WalkChanges(%d, limit %d) (-want +got):\n%s", tt.since, tt.limit, diff)
			}
		}
		return nil
	})
	if err := db.Update(ctx, func(w *Writer) error { return w.PutChanges("gone", nil) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutChanges(gone) = %v, want ErrNotFound", err)
	}
}

func TestBaselines(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	err := db.Update(ctx, func(w *Writer) error {
		if err := w.PutBaseline("a\x00k1", []byte("pin1")); err != nil {
			return err
		}
		return w.PutBaseline("", []byte("x"))
	})
	if !errors.Is(err, ErrBadID) {
		t.Fatalf("PutBaseline(\"\") = %v, want ErrBadID", err)
	}
	if err := db.Update(ctx, func(w *Writer) error { return w.PutBaseline("a\x00k1", []byte("pin1")) }); err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(r *Reader) error {
		if b, err := r.Baseline("a\x00k1"); err != nil || string(b) != "pin1" {
			t.Errorf("Baseline = %q, %v", b, err)
		}
		if _, err := r.Baseline("a\x00k2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Baseline(k2) err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err := db.Update(ctx, func(w *Writer) error { return w.DeleteBaseline("a\x00k1") }); err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(r *Reader) error {
		if _, err := r.Baseline("a\x00k1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Baseline after delete err = %v, want ErrNotFound", err)
		}
		return nil
	})
}

func TestMigrationFrom4(t *testing.T) {
	db := openAtVersion(t, 4)
	_ = db.View(context.Background(), func(r *Reader) error {
		for _, b := range [][]byte{bSummaries, bSummaryFleet, bChanges, bBaselines} {
			if r.tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing after the 4→5 migration", b)
			}
		}
		return nil
	})
	if err := db.Check(context.Background()); err != nil {
		t.Errorf("Check after migration: %v", err)
	}
}

func TestCheckFindsStrayInsight(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	commitAt(t, db, "a1", "a", "f1", 100)
	_ = db.Update(ctx, func(w *Writer) error {
		_ = w.tx.Bucket(bSummaries).Put(captureKey(5, "ghost"), []byte("x"))
		_ = w.tx.Bucket(bSummaryFleet).Put(idxKey("f1", captureKey(100, "a1")), nil) // a1 has no summary
		return w.tx.Bucket(bChanges).Put(changeKey(captureKey(7, "ghost2"), 0), []byte("x"))
	})
	err := db.Check(ctx)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check = %v, want ErrCorrupt", err)
	}
	for _, want := range []string{`summary "ghost" has no capture`, "summary_fleet has stray entry", "has no capture"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q lacks %q", err, want)
		}
	}
	// Repair so that the cleanup's check passes.
	_ = db.Update(ctx, func(w *Writer) error {
		_ = w.tx.Bucket(bSummaries).Delete(captureKey(5, "ghost"))
		_ = w.tx.Bucket(bSummaryFleet).Delete(idxKey("f1", captureKey(100, "a1")))
		return w.tx.Bucket(bChanges).Delete(changeKey(captureKey(7, "ghost2"), 0))
	})
}
