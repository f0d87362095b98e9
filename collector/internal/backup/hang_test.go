package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
)

// hangingBucket returns a storage client whose endpoint, on loopback, takes
// every request and never answers (until the test ends), and how many
// requests reached it.
func hangingBucket(t *testing.T) (*storage.Client, func() int) {
	t.Helper()
	release := make(chan struct{})
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	tr := &http.Transport{}
	t.Cleanup(func() {
		close(release)
		srv.CloseClientConnections() // the client's read loops end with them
		srv.Close()
		tr.CloseIdleConnections()
	})
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(srv.URL+"/storage/v1/"),
		option.WithHTTPClient(&http.Client{Transport: tr}), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// grow stages mib MiB in the store, which makes bbolt grow and remap its
// file: the remap waits for every open read transaction.
func grow(db *store.DB, id string, mib int) error {
	chunk := bytes.Repeat([]byte{7}, 1<<20)
	sum := sha256.Sum256(nil)
	err := db.Update(context.Background(), func(w *store.Writer) error {
		_, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "a", Chunks: int64(mib), Bytes: int64(mib) << 20, SHA256: sum[:]})
		return err
	})
	for i := 0; i < mib && err == nil; i++ {
		err = db.Update(context.Background(), func(w *store.Writer) error {
			_, err := w.StageChunk(id, int64(i), int64(i)<<20, chunk)
			return err
		})
	}
	return err
}

// TestSnapshotBucketHangs is finding 3 of issue 13: a snapshot to a bucket
// that never answered had no deadline and held its read transaction, so the
// next commit that grew the file waited for bbolt's remap, and every reader
// queued behind it. Now the snapshot is copied locally first (the read
// transaction ends), the upload has a deadline, and State says what hangs.
func TestSnapshotBucketHangs(t *testing.T) {
	ctx := context.Background()
	gcs, requests := hangingBucket(t)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{id: "a", host: "h", created: created})
	// Larger than the client's 16 MiB upload buffer: streamed, the copy
	// would wait for the bucket inside its read transaction.
	if err := grow(db, "pre", 40); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, Prefix: "fp", TempDir: t.TempDir(), CallTimeout: 3 * time.Second, MinRate: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, _, err := b.Snapshot(ctx)
		done <- err
	}()
	waitFor(t, "the snapshot's upload to reach the bucket", func() bool { return requests() > 0 })
	st := b.State()
	if len(st.Calls) != 1 || !strings.Contains(st.Calls[0].What, "upload gs://fleetprof-test/fp/snapshots/") {
		t.Fatalf("State while the upload hangs = %+v, want the snapshot's upload", st)
	}
	if s := st.String(); !strings.Contains(s, "waiting") || !strings.Contains(s, "abandoned in") {
		t.Errorf("State().String() = %q", s)
	}
	// The store commits (growing and remapping the file) and reads meanwhile.
	grown := make(chan error, 1)
	go func() {
		err := grow(db, "big", 48)
		if err == nil {
			err = db.View(ctx, func(r *store.Reader) error { return nil })
		}
		grown <- err
	}()
	select {
	case err := <-grown:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-done:
		t.Fatalf("the snapshot ended (%v) before the commits did: they waited for it", err)
	case <-time.After(10 * time.Second):
		t.Fatal("commits blocked behind a snapshot whose bucket hangs")
	}
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within") {
			t.Errorf("Snapshot with a hanging bucket = %v, want a deadline error", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("Snapshot gave up after %s, want about its 3 s deadline", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Snapshot to a hanging bucket never returned")
	}
	st = b.State()
	if len(st.Calls) != 0 || !strings.Contains(st.LastError, "no answer within") {
		t.Errorf("State after the deadline = %+v, want no call and the last error", st)
	}
}

// TestCaptureBackupBucketHangs: a capture's backup gives up at its call
// deadline too, leaving the capture pending for the next try.
func TestCaptureBackupBucketHangs(t *testing.T) {
	gcs, _ := hangingBucket(t)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{id: "a", host: "h", created: created})
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: t.TempDir(), CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := b.Capture(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("Capture with a hanging bucket = %v, want its call's deadline", err)
	}
}

// TestRestoreBucketHangs: restore's listing has a deadline.
func TestRestoreBucketHangs(t *testing.T) {
	gcs, _ := hangingBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Restore(ctx, RestoreConfig{Client: gcs, Bucket: testBucket, DataDir: t.TempDir(), CallTimeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("Restore with a hanging bucket = %v, want its call's deadline", err)
	}
}
