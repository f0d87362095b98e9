package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/selector"
)

// testDB is a store in a test's temporary folder, checked for consistency
// and closed on cleanup.
type testDB struct {
	t    *testing.T
	path string
	db   *DB
}

// openTest opens a store in a fresh folder.
func openTest(t *testing.T) (*DB, *testDB) {
	t.Helper()
	tdb := &testDB{t: t, path: filepath.Join(t.TempDir(), FileName)}
	t.Cleanup(tdb.checkAndClose)
	return tdb.reopen(), tdb
}

// reopen closes the store, if open, and opens it again: what a restart (or
// a crash between transactions) looks like to the file.
func (d *testDB) reopen() *DB {
	d.t.Helper()
	if d.db != nil {
		if err := d.db.Close(); err != nil {
			d.t.Fatal(err)
		}
	}
	db, err := Open(d.path, Options{NoSync: true})
	if err != nil {
		d.t.Fatal(err)
	}
	d.db = db
	return db
}

func (d *testDB) checkAndClose() {
	if err := d.db.Check(context.Background()); err != nil {
		d.t.Errorf("consistency check: %v", err)
	}
	if err := d.db.Close(); err != nil {
		d.t.Error(err)
	}
}

func stage(t *testing.T, db *DB, id, agent string, chunks ...[]byte) []byte {
	t.Helper()
	all := bytes.Join(chunks, nil)
	sum := sha256.Sum256(all)
	ctx := context.Background()
	err := db.Update(ctx, func(w *Writer) error {
		u, err := w.BeginUpload(&Upload{CaptureID: id, AgentID: agent, Chunks: int64(len(chunks)), Bytes: int64(len(all)), SHA256: sum[:]})
		if err != nil {
			return err
		}
		for i, c := range chunks[u.NextSeq:] {
			seq := u.NextSeq + int64(i)
			if _, err := w.StageChunk(id, seq, u.NextOffset, c); err != nil {
				return err
			}
			u.NextOffset += int64(len(c))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func commit(t testing.TB, db *DB, c Capture) {
	t.Helper()
	err := db.Update(context.Background(), func(w *Writer) error {
		u, err := w.Upload(c.ID)
		if err != nil {
			return err
		}
		c.SizeBytes = u.NextOffset
		return w.Commit(&c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openAtVersion opens a store whose file was written at schema version v,
// so that Open migrates it; it is closed when the test ends.
func openAtVersion(t *testing.T, v int) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	if err := SetVersionForTest(path, v); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestInvisibleUntilCommitted(t *testing.T) {
	ctx := context.Background()
	db, tdb := openTest(t)
	id := "cap-1"
	stage(t, db, id, "a1", []byte("FPCAP-"), []byte("part-2"))

	visible := func(db *DB) bool {
		var ok bool
		err := db.View(ctx, func(r *Reader) error {
			ok = r.Committed(id)
			list, _, err := r.List(Filter{})
			if err != nil {
				return err
			}
			if ok != (len(list) == 1) {
				return fmt.Errorf("Committed = %v but List has %d", ok, len(list))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if visible(db) {
		t.Fatal("staged capture is visible before commit")
	}
	// A crash between staging and commit: close, reopen.
	db = tdb.reopen()
	if visible(db) {
		t.Fatal("staged capture is visible after a restart")
	}
	var u *Upload
	if err := db.View(ctx, func(r *Reader) (err error) { u, err = r.Upload(id); return err }); err != nil {
		t.Fatal(err)
	}
	if u.NextSeq != 2 || u.NextOffset != 12 {
		t.Errorf("after restart upload at seq %d offset %d, want 2, 12", u.NextSeq, u.NextOffset)
	}
	// Resume: BeginUpload with the same totals keeps what is staged.
	all := stage(t, db, id, "a1", []byte("FPCAP-"), []byte("part-2"))
	commit(t, db, Capture{ID: id, AgentID: "a1", CreatedNS: 1000, Trigger: "manual"})
	db = tdb.reopen()
	if !visible(db) {
		t.Fatal("committed capture is not visible")
	}
	var got bytes.Buffer
	err := db.View(ctx, func(r *Reader) error {
		if _, err := r.Upload(id); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("upload after commit: %v, want ErrNotFound", err)
		}
		_, err := r.WriteBlob(id, &got)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), all) {
		t.Errorf("blob = %q, want %q", got.Bytes(), all)
	}
	// Committing again is refused; so is staging again.
	err = db.Update(ctx, func(w *Writer) error {
		_, err := w.BeginUpload(&Upload{CaptureID: id, AgentID: "a1"})
		return err
	})
	if !errors.Is(err, ErrExists) {
		t.Errorf("BeginUpload of a committed capture: %v, want ErrExists", err)
	}
}

func TestUploadRestartsWhenTotalsChange(t *testing.T) {
	db, _ := openTest(t)
	stage(t, db, "c", "a", []byte("one"))
	// Another file under the same id: staging starts over.
	stage(t, db, "c", "a", []byte("xx"), []byte("yy"))
	var u *Upload
	_ = db.View(context.Background(), func(r *Reader) (err error) { u, err = r.Upload("c"); return err })
	if u.NextSeq != 2 || u.NextOffset != 4 {
		t.Errorf("upload at %d/%d, want 2/4", u.NextSeq, u.NextOffset)
	}
}

func TestStageChunkSequence(t *testing.T) {
	db, _ := openTest(t)
	stage(t, db, "c", "a", []byte("one"))
	tests := []struct{ seq, off int64 }{{0, 0}, {2, 3}, {1, 0}, {1, 4}}
	for _, tt := range tests {
		err := db.Update(context.Background(), func(w *Writer) error {
			_, err := w.StageChunk("c", tt.seq, tt.off, []byte("x"))
			return err
		})
		if !errors.Is(err, ErrSequence) {
			t.Errorf("StageChunk(seq %d, off %d) = %v, want ErrSequence", tt.seq, tt.off, err)
		}
	}
}

func TestKeyOrder(t *testing.T) {
	db, _ := openTest(t)
	// 255 and 256 ns: a little-endian or decimal key would sort them wrong.
	times := []int64{256, 255, 1 << 40, 65535, 65536, 1}
	for i, ns := range times {
		id := fmt.Sprintf("c%d", i)
		stage(t, db, id, "a", []byte("x"))
		commit(t, db, Capture{ID: id, AgentID: "a", CreatedNS: ns})
	}
	var got []int64
	_ = db.View(context.Background(), func(r *Reader) error {
		list, _, err := r.List(Filter{})
		for _, c := range list {
			got = append(got, c.CreatedNS)
		}
		return err
	})
	want := []int64{1 << 40, 65536, 65535, 256, 255, 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List order = %v, want %v", got, want)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	type capSpec struct {
		id, agent, trigger, status string
		ns                         int64
		labels                     map[string]string
	}
	specs := []capSpec{
		{"a1", "agent-a", "fleet", StatusAnalyzed, 100, map[string]string{"model": "qwen3", "zone": "east"}},
		{"a2", "agent-a", "manual", StatusCommitted, 200, map[string]string{"model": "qwen3", "zone": "east"}},
		{"b1", "agent-b", "fleet", StatusAnalyzed, 150, map[string]string{"model": "llama", "zone": "east"}},
		{"b2", "agent-b", "schedule", StatusAnalysisFailed, 300, map[string]string{"model": "llama", "zone": "west"}},
		{"c1", "agent-c", "fleet", StatusCommitted, 250, map[string]string{"model": "qwen3", "zone": "west"}},
	}
	for _, s := range specs {
		stage(t, db, s.id, s.agent, []byte(s.id))
		commit(t, db, Capture{ID: s.id, AgentID: s.agent, Trigger: s.trigger, Status: StatusCommitted, CreatedNS: s.ns, Labels: s.labels})
		if s.status != StatusCommitted {
			if err := db.Update(ctx, func(w *Writer) error { return w.SetStatus(s.id, s.status, "") }); err != nil {
				t.Fatal(err)
			}
		}
	}
	sel := func(s string) selector.Selector {
		x, err := selector.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "[b2 c1 a2 b1 a1]"},
		{"agent", Filter{AgentID: "agent-b"}, "[b2 b1]"},
		{"trigger", Filter{Trigger: "fleet"}, "[c1 b1 a1]"},
		{"status", Filter{Status: StatusAnalyzed}, "[b1 a1]"},
		{"label", Filter{Selector: sel("model=qwen3")}, "[c1 a2 a1]"},
		{"two labels", Filter{Selector: sel("model=qwen3,zone=east")}, "[a2 a1]"},
		{"not equal", Filter{Selector: sel("zone!=east")}, "[b2 c1]"},
		{"label and trigger", Filter{Selector: sel("zone=east"), Trigger: "fleet"}, "[b1 a1]"},
		{"since", Filter{Since: time.Unix(0, 200)}, "[b2 c1 a2]"},
		{"until", Filter{Until: time.Unix(0, 200)}, "[b1 a1]"},
		{"since until", Filter{Since: time.Unix(0, 150), Until: time.Unix(0, 300)}, "[c1 a2 b1]"},
		{"agent since", Filter{AgentID: "agent-a", Since: time.Unix(0, 101)}, "[a2]"},
		{"none", Filter{AgentID: "agent-z"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := db.View(ctx, func(r *Reader) error {
				list, next, err := r.List(tt.f)
				if next != "" {
					t.Errorf("next page token %q, want none", next)
				}
				for _, c := range list {
					got = append(got, c.ID)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tt.want && !(tt.want == "[]" && got == nil) {
				t.Errorf("List(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
	// Pages of two.
	var pages []string
	f := Filter{Limit: 2}
	for {
		var list []Capture
		var next string
		_ = db.View(ctx, func(r *Reader) (err error) { list, next, err = r.List(f); return err })
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		pages = append(pages, fmt.Sprint(ids))
		if next == "" {
			break
		}
		f.PageToken = next
	}
	if got, want := fmt.Sprint(pages), "[[b2 c1] [a2 b1] [a1]]"; got != want {
		t.Errorf("pages = %v, want %v", got, want)
	}
	var counts map[string]int
	_ = db.View(ctx, func(r *Reader) error { counts = r.CountByStatus(); return nil })
	if got, want := fmt.Sprint(counts), "map[analysis_failed:1 analyzed:2 committed:2]"; got != want {
		t.Errorf("CountByStatus = %v, want %v", got, want)
	}
	// Delete keeps the store consistent.
	if err := db.Update(ctx, func(w *Writer) error { return w.DeleteCapture("a2") }); err != nil {
		t.Fatal(err)
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := SetVersionForTest(path, 1); err != nil {
		t.Fatal(err)
	}
	if err := PutRawCaptureForTest(path, &Capture{ID: "old", AgentID: "a", CreatedNS: 5, Status: StatusAnalyzed}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(context.Background(), func(r *Reader) error {
		if v := r.Version(); v != SchemaVersion {
			t.Errorf("Version() = %d, want %d", v, SchemaVersion)
		}
		list, _, err := r.List(Filter{Status: StatusAnalyzed})
		if len(list) != 1 || list[0].ID != "old" {
			t.Errorf("List(status analyzed) after migration = %v, want [old]", list)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A fresh file goes from 0 to the current version.
	fresh := filepath.Join(t.TempDir(), FileName)
	if err := SetVersionForTest(fresh, 0); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(fresh, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db2.Check(context.Background()); err != nil {
		t.Errorf("fresh store: %v", err)
	}
	db2.Close()
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(context.Background(), func(w *Writer) error {
		return w.tx.Bucket(bMeta).Put(keyVersion, u32(SchemaVersion+1))
	})
	db.Close()
	if _, err := Open(path, Options{NoSync: true}); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open of a newer file: %v, want ErrNewerSchema", err)
	}
}

func TestGroup(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Group(ctx, func(w *Writer) error {
				if i == 7 {
					return errors.New("boom")
				}
				return w.PutAgent(&Agent{ID: fmt.Sprintf("a%02d", i)})
			})
		})
	}
	wg.Wait()
	var agents []Agent
	_ = db.View(ctx, func(r *Reader) (err error) { agents, err = r.Agents(); return err })
	if len(agents) != n-1 {
		t.Errorf("%d agents stored, want %d", len(agents), n-1)
	}
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("Group call %d: %v", i, err)
		}
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	stage(t, db, "c", "a", []byte("data"))
	commit(t, db, Capture{ID: "c", AgentID: "a", CreatedNS: 9})
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(ctx, out); err != nil {
		t.Fatal(err)
	}
	b, err := Open(out, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Check(ctx); err != nil {
		t.Error(err)
	}
	_ = b.View(ctx, func(r *Reader) error {
		if !r.Committed("c") {
			t.Error("backup lacks capture c")
		}
		return nil
	})
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"cap-1.2_x", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a..b", false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
		{string(bytes.Repeat([]byte("a"), 128)), true},
		{string(bytes.Repeat([]byte("a"), 129)), false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// TestCommitInStagingTransaction commits in the transaction that staged the
// chunks (as a Group batch may): the chunks must all be in the blob.
func TestCommitInStagingTransaction(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	big := bytes.Repeat([]byte("x"), 64<<10) // past bbolt's inline bucket size
	for _, tt := range []struct {
		id     string
		chunks [][]byte
	}{
		{"small", [][]byte{[]byte("FPCAP-"), []byte("tail")}},
		{"large", [][]byte{big, big, []byte("end")}},
	} {
		all := bytes.Join(tt.chunks, nil)
		err := db.Update(ctx, func(w *Writer) error {
			if _, err := w.BeginUpload(&Upload{CaptureID: tt.id, AgentID: "a", Bytes: int64(len(all)), SHA256: make([]byte, 32)}); err != nil {
				return err
			}
			var off int64
			for i, c := range tt.chunks {
				if _, err := w.StageChunk(tt.id, int64(i), off, c); err != nil {
					return err
				}
				off += int64(len(c))
			}
			return w.Commit(&Capture{ID: tt.id, AgentID: "a", CreatedNS: 5, SizeBytes: off})
		})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_ = db.View(ctx, func(r *Reader) error {
			src, err := r.OpenBlob(tt.id)
			if err != nil {
				return err
			}
			_, err = got.ReadFrom(src)
			return err
		})
		if !bytes.Equal(got.Bytes(), all) {
			t.Errorf("%s: blob has %d bytes, want %d", tt.id, got.Len(), len(all))
		}
	}
}
