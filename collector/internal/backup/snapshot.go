package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// SnapshotFolder holds the database snapshots, under the prefix.
const SnapshotFolder = "snapshots"

// Snapshot streams a consistent copy of the whole database (tx.WriteTo, through
// an io.Pipe, never a file copy) to PREFIX/snapshots/<UTC time>.db while the
// store keeps serving. It returns the object's name and size. An upload that
// fails leaves no object behind.
func (b *Backup) Snapshot(ctx context.Context) (string, int64, error) {
	name := b.name(SnapshotFolder, time.Now().UTC().Format(TimeLayout)+".db")
	n, err := b.snapshot(ctx, name)
	if err != nil {
		b.snapshots.WithLabelValues("failed").Inc()
		return name, n, fmt.Errorf("snapshot to %s: %w", b.URL(name), err)
	}
	b.snapshots.WithLabelValues("done").Inc()
	b.snapBytes.Set(float64(n))
	b.snapTime.SetToCurrentTime()
	b.log.Info("database snapshot uploaded", "object", b.URL(name), "bytes", n)
	return name, n, nil
}

func (b *Backup) snapshot(ctx context.Context, name string) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owned: ends when the pipe's reader is closed or drained
		_, err := b.cfg.Store.Backup(ctx, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	w := b.bucket.Object(name).NewWriter(ctx)
	w.ContentType = "application/octet-stream"
	n, err := io.Copy(w, pr)
	if err != nil {
		cancel() // abandons the upload
		pr.CloseWithError(err)
		_ = w.Close()
		<-done
		return n, err
	}
	if werr := <-done; werr != nil {
		cancel()
		_ = w.Close()
		return n, werr
	}
	if err := w.Close(); err != nil {
		return n, err
	}
	return n, nil
}

// RestoreConfig says which snapshot to restore where. Client, Bucket and
// DataDir are required.
type RestoreConfig struct {
	// Client talks to Cloud Storage (NewClient).
	Client *storage.Client
	// Bucket and Prefix are where the collector's backups are.
	Bucket, Prefix string
	// Snapshot names the snapshot: its time ("20260205T201530Z"), its file
	// name ("20260205T201530Z.db") or its whole object name. Empty or
	// "latest" means the newest.
	Snapshot string
	// DataDir is the collector's data folder to restore into.
	DataDir string
	// Force sets an existing database aside (renamed to
	// fleetprof.db.replaced-<UTC time>) instead of refusing.
	Force bool
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
}

// Restore downloads a database snapshot into DataDir/fleetprof.db: into a
// temporary file first, which must open (migrating if it is older) and pass
// the store's consistency check before it is renamed into place. It returns
// the snapshot's object name.
func Restore(ctx context.Context, cfg RestoreConfig) (string, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Bucket == "" {
		return "", ErrNoBucket
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	folder := SnapshotFolder + "/"
	if prefix != "" {
		folder = prefix + "/" + folder
	}
	bkt := cfg.Client.Bucket(cfg.Bucket)
	name, err := snapshotName(ctx, bkt, folder, cfg.Snapshot)
	if err != nil {
		return "", err
	}
	url := fmt.Sprintf("gs://%s/%s", cfg.Bucket, name)

	dst := filepath.Join(cfg.DataDir, store.FileName)
	if _, err := os.Stat(dst); err == nil {
		if !cfg.Force {
			return name, fmt.Errorf("%w (%s)", ErrDatabaseExists, dst)
		}
		// Opening it proves no collector holds its lock.
		old, err := store.Open(dst, store.Options{Timeout: time.Second})
		if err != nil {
			return name, fmt.Errorf("%w (%s): %w", ErrInUse, dst, err)
		}
		old.Close()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return name, fmt.Errorf("restore: %w", err)
	}
	tmp, err := download(ctx, bkt, name, cfg.DataDir)
	if err != nil {
		return name, fmt.Errorf("restore %s: %w", url, err)
	}
	defer os.Remove(tmp) // gone after the rename; removes it on failure
	db, err := store.Open(tmp, store.Options{Timeout: time.Second, Logger: log})
	if err != nil {
		return name, fmt.Errorf("%w: %s: %w", ErrBadSnapshot, url, err)
	}
	cerr := db.Check(ctx)
	if err := db.Close(); cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return name, fmt.Errorf("%w: %s: %w", ErrBadSnapshot, url, cerr)
	}
	if _, err := os.Stat(dst); err == nil {
		aside := dst + ".replaced-" + time.Now().UTC().Format(TimeLayout)
		if err := os.Rename(dst, aside); err != nil {
			return name, fmt.Errorf("restore: set the old database aside: %w", err)
		}
		log.Info("old database set aside", "path", aside)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return name, fmt.Errorf("restore: %w", err)
	}
	if d, err := os.Open(cfg.DataDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	log.Info("database restored", "snapshot", url, "path", dst)
	return name, nil
}

// snapshotName resolves which snapshot object to restore.
func snapshotName(ctx context.Context, bkt *storage.BucketHandle, folder, want string) (string, error) {
	switch {
	case want != "" && want != "latest" && strings.Contains(want, "/"):
		return want, nil
	case want != "" && want != "latest":
		if !strings.HasSuffix(want, ".db") {
			want += ".db"
		}
		return folder + want, nil
	}
	q := &storage.Query{Prefix: folder}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return "", err
	}
	var latest string
	it := bkt.Objects(ctx, q)
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("list snapshots: %w", err)
		}
		// Names are UTC times of fixed width: the greatest is the newest.
		if strings.HasSuffix(a.Name, ".db") && a.Name > latest {
			latest = a.Name
		}
	}
	if latest == "" {
		return "", fmt.Errorf("%w (%s)", ErrNoSnapshot, folder)
	}
	return latest, nil
}

// download copies an object into a new temporary file in dir, synced, and
// returns its path. The client checks the object's CRC32C as it reads.
func download(ctx context.Context, bkt *storage.BucketHandle, name, dir string) (string, error) {
	r, err := bkt.Object(name).NewReader(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := os.CreateTemp(dir, ".restore-*.db")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
