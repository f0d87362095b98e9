package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
)

// dump is what a store serves: every capture record, blob and report.
type dump struct {
	Captures []store.Capture
	Blobs    map[string][]byte
	Reports  map[string][]byte
}

func dumpStore(t *testing.T, db *store.DB) dump {
	t.Helper()
	d := dump{Blobs: map[string][]byte{}, Reports: map[string][]byte{}}
	err := db.View(context.Background(), func(r *store.Reader) error {
		list, _, err := r.List(store.Filter{Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		d.Captures = list
		for _, c := range list {
			var b bytes.Buffer
			if _, err := r.WriteBlob(c.ID, &b); err != nil {
				return err
			}
			d.Blobs[c.ID] = b.Bytes()
			if d.Reports[c.ID], err = r.Report(c.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, _ := client(t, srv)
	db := storetest.Open(t)
	for i, id := range []string{"a", "b", "c"} {
		addCapture(t, db, testCapture{id: id, host: "h", created: created.Add(time.Duration(i) * time.Hour), labels: map[string]string{"model": "m" + id}})
	}
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, Prefix: "fp", TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := b.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A later snapshot with a fourth capture is the latest.
	addCapture(t, db, testCapture{id: "d", host: "h", created: created.Add(4 * time.Hour)})
	time.Sleep(1100 * time.Millisecond) // names have whole seconds
	latest, n, err := b.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(latest, "fp/snapshots/") || !strings.HasSuffix(latest, ".db") || latest <= first {
		t.Errorf("snapshots %q then %q, want fp/snapshots/<time>.db, increasing", first, latest)
	}
	if a := objects(t, gcs, latest)[latest]; a == nil || a.Size != n {
		t.Errorf("snapshot object %s: %+v, want %d bytes", latest, a, n)
	}
	if got := testutil.ToFloat64(b.snapshots.WithLabelValues("done")); got != 2 {
		t.Errorf("snapshots done metric = %v, want 2", got)
	}

	want := dumpStore(t, db)
	dir := filepath.Join(t.TempDir(), "restored")
	name, err := Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, Prefix: "fp/", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if name != latest {
		t.Errorf("Restore picked %s, want the latest %s", name, latest)
	}
	rdb, err := store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Check(ctx); err != nil {
		t.Error(err)
	}
	got := dumpStore(t, rdb)
	rdb.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restored store differs (-want +got):\n%s", diff)
	}
	if len(got.Captures) != 4 {
		t.Errorf("restored %d captures, want 4", len(got.Captures))
	}

	// A second restore into the same folder is refused without --force.
	_, err = Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, Prefix: "fp", DataDir: dir})
	if !errors.Is(err, ErrDatabaseExists) {
		t.Errorf("Restore over a database = %v, want ErrDatabaseExists", err)
	}
	// With --force the older snapshot (named by its time) replaces it and
	// the old file is set aside.
	stamp := strings.TrimSuffix(strings.TrimPrefix(first, "fp/snapshots/"), ".db")
	if _, err := Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, Prefix: "fp", DataDir: dir, Snapshot: stamp, Force: true}); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, store.FileName+".replaced-*"))
	if len(aside) != 1 {
		t.Errorf("set aside %v, want one file", aside)
	}
	rdb, err = store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dumpStore(t, rdb); len(got.Captures) != 3 {
		t.Errorf("the first snapshot restored %d captures, want 3", len(got.Captures))
	}
	// While a collector holds it, even --force is refused.
	_, err = Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, Prefix: "fp", DataDir: dir, Force: true})
	rdb.Close()
	if !errors.Is(err, ErrInUse) {
		t.Errorf("Restore over a database in use = %v, want ErrInUse", err)
	}
}

func TestRestoreErrors(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, _ := client(t, srv)
	// Not a database.
	w := gcs.Bucket(testBucket).Object("bad/snapshots/20260101T000000Z.db").NewWriter(ctx)
	w.Write(bytes.Repeat([]byte("not bbolt "), 1000))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		prefix string
		want   error
	}{
		{"no snapshot", "empty", ErrNoSnapshot},
		{"garbage", "bad", ErrBadSnapshot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, Prefix: tt.prefix, DataDir: dir})
			if !errors.Is(err, tt.want) {
				t.Errorf("Restore = %v, want %v", err, tt.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a failed restore left %d files in the data folder", len(left))
			}
		})
	}
}

func TestSnapshotFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, fl := client(t, srv)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{id: "a", host: "h", created: created})
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fl.set(func(f *flaky) { f.down = true })
	if _, _, err := b.Snapshot(ctx); err == nil {
		t.Fatal("Snapshot with the bucket down succeeded")
	}
	fl.set(func(f *flaky) { f.down = false })
	if got := objects(t, gcs, ""); len(got) != 0 {
		t.Errorf("a failed snapshot left %d objects", len(got))
	}
	if got := testutil.ToFloat64(b.snapshots.WithLabelValues("failed")); got != 1 {
		t.Errorf("snapshots failed metric = %v, want 1", got)
	}
	// The store still works and is unharmed.
	addCapture(t, db, testCapture{id: "b", host: "h", created: created.Add(time.Second)})
}

func TestRunSnapshotsEveryInterval(t *testing.T) {
	srv := emulator(t)
	gcs, _ := client(t, srv)
	db := storetest.Open(t)
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, Prefix: "p", SnapshotInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	waitFor(t, "a snapshot from Run", func() bool { return len(objects(t, gcs, "p/snapshots/")) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
