package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/integration/bolttest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// filledDataDir returns a data folder whose database holds a few captures
// of 256 KiB, the collector stopped.
func filledDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c := startCollectorWith(t, Config{DataDir: dir})
	for _, id := range []string{"s-1", "s-2", "s-3", "s-4"} {
		var ops []capturetest.Op
		for i := range 2000 {
			ops = append(ops, capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: int64(i) * capture.Microsecond, Dur: capture.Microsecond / 2})
		}
		upload(t, c, id, capturetest.Capture(1_770_000_000_000_000_000, ops...))
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newServer runs New on cfg over loopback and returns its error, closing
// what it opened.
func newServer(cfg Config) error {
	cfg.Listen, cfg.HTTP, cfg.Insecure, cfg.NoSync = "127.0.0.1:0", "-", true, true
	srv, err := New(cfg)
	if err == nil {
		srv.Close()
	}
	return err
}

// TestStartChecksStore is finding 6 of issue 13: a truncated database
// started serving and panicked on its first read; a 0-byte one started
// empty although the backup held the data. Both are refused now, saying
// what to run.
func TestStartChecksStore(t *testing.T) {
	dir := filledDataDir(t)
	db := filepath.Join(dir, store.FileName)
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated to half of the pages in use (the file is longer: bbolt grows
	// it in steps, and a cut in that tail loses nothing): refused with the
	// restore command.
	cut := bolttest.UsedBytes(t, db) / 2 / 4096 * 4096
	if err := os.WriteFile(db, b[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	err = newServer(Config{DataDir: dir})
	if !errors.Is(err, ErrDamagedStore) || !errors.Is(err, store.ErrCorrupt) ||
		!strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), "fleetprof-collector restore --gcs-bucket BUCKET") {
		t.Errorf("New over a truncated database = %v, want ErrDamagedStore naming the truncation and the restore command", err)
	}
	if st, _ := os.Stat(db); st.Size() != cut {
		t.Errorf("the refused file was changed: %d bytes", st.Size())
	}

	// 0 bytes, with a snapshot in the bucket: refused, naming it.
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "fp"})
	gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "fp", Name: "prod/snapshots/20260101T000000Z.db"}, Content: b})
	bc := BackupConfig{Bucket: "fp", Prefix: "prod", Endpoint: gcs.URL(), SnapshotInterval: -1}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = newServer(Config{DataDir: dir, Backup: bc})
	if !errors.Is(err, ErrStoreGone) || !strings.Contains(err.Error(), "empty (0 bytes)") ||
		!strings.Contains(err.Error(), "prod/snapshots/20260101T000000Z.db") ||
		!strings.Contains(err.Error(), "fleetprof-collector restore --gcs-bucket fp --gcs-prefix prod --gcs-endpoint "+gcs.URL()+" --data "+dir+" --force") {
		t.Errorf("New over a 0-byte database with a snapshot in the bucket = %v, want ErrStoreGone naming it and the restore command", err)
	}
	// Missing: the same.
	os.Remove(db)
	if err := newServer(Config{DataDir: dir, Backup: bc}); !errors.Is(err, ErrStoreGone) || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("New without a database, a snapshot in the bucket = %v, want ErrStoreGone", err)
	}
	// --new-store starts empty anyway; an empty bucket, or none, too.
	if err := newServer(Config{DataDir: t.TempDir(), Backup: bc, NewStore: true}); err != nil {
		t.Errorf("New with NewStore = %v", err)
	}
	bc.Prefix = "other"
	if err := newServer(Config{DataDir: t.TempDir(), Backup: bc}); err != nil {
		t.Errorf("New over an empty backup = %v", err)
	}
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, store.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := newServer(Config{DataDir: empty}); err != nil {
		t.Errorf("New over a 0-byte database without backup = %v", err)
	}
}

// TestHealthzWhileBackupHangs is finding 3 of issue 13: with a bucket that
// never answered, /healthz, listings and uploads hung. Now /healthz answers
// at once and says which backup call waits, and captures are still taken
// in.
func TestHealthzWhileBackupHangs(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	c := startCollectorWith(t, Config{HTTP: "127.0.0.1:0", NewStore: true, Backup: BackupConfig{
		Bucket: "fp", Endpoint: hang.URL, SnapshotInterval: 50 * time.Millisecond, CallTimeout: time.Minute,
	}})
	waitFor(t, func() bool { return len(c.srv.Backup().State().Calls) > 0 })
	upload(t, c, "h-1", capturetest.Capture(1_770_000_000_000_000_000, capturetest.Op{Start: 0, Dur: capture.Microsecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+c.srv.HTTPAddr()+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /healthz while the bucket hangs: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "ok\n") ||
		!strings.Contains(string(body), "backup: waiting") || !strings.Contains(string(body), "upload gs://fp/snapshots/") {
		t.Errorf("GET /healthz = %d %q, want ok with the backup waiting on its snapshot upload", resp.StatusCode, body)
	}
}

// TestStartBackupWithoutSnapshot: capture folders but no snapshot in the
// bucket: refused too, without a restore command that cannot work.
func TestStartBackupWithoutSnapshot(t *testing.T) {
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "fp"})
	gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "fp", Name: "prod/20260101T000000Z_manual_m_h_c/checksums.txt"}, Content: []byte("x")})
	err = newServer(Config{DataDir: t.TempDir(), Backup: BackupConfig{Bucket: "fp", Prefix: "prod", Endpoint: gcs.URL(), SnapshotInterval: -1}})
	if !errors.Is(err, ErrStoreGone) || !strings.Contains(err.Error(), "no database snapshot is") || strings.Contains(err.Error(), "restore it with") {
		t.Errorf("New over capture folders without a snapshot = %v", err)
	}
}
