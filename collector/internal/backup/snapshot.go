package backup

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// SnapshotFolder holds the database snapshots, under the prefix.
const SnapshotFolder = "snapshots"

// Snapshot writes a consistent copy of the whole database (tx.WriteTo,
// never a file copy) to a temporary file in TempDir, then uploads it to
// PREFIX/snapshots/<UTC time>.db within the call deadline. The read
// transaction ends before the upload starts, so a bucket that hangs never
// holds back the store's commits. It returns the object's name and size. An
// upload that fails leaves no object behind.
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
	b.calls.snapshotted(time.Now())
	b.log.Info("database snapshot uploaded", "object", b.URL(name), "bytes", n)
	return name, n, nil
}

func (b *Backup) snapshot(ctx context.Context, name string) (int64, error) {
	f, err := os.CreateTemp(b.cfg.TempDir, tempPattern)
	if err != nil {
		return 0, fmt.Errorf("local copy: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	n, err := b.cfg.Store.Backup(ctx, io.MultiWriter(f, crc)) // the read transaction ends here
	if err != nil {
		return n, fmt.Errorf("local copy: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return n, fmt.Errorf("local copy: %w", err)
	}
	cctx, done := b.call(ctx, "upload "+b.URL(name), n)
	w := b.bucket.Object(name).NewWriter(cctx)
	w.ContentType = "application/octet-stream"
	w.CRC32C, w.SendCRC32C = crc.Sum32(), true
	if _, err := io.Copy(w, f); err != nil {
		err = done(err) // cancels the context first: the upload is abandoned
		_ = w.Close()
		return n, err
	}
	return n, done(w.Close())
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
	// CallTimeout and MinRate bound each call to Cloud Storage as
	// Config's do. Zero means DefaultCallTimeout and DefaultMinRate.
	CallTimeout time.Duration
	MinRate     float64
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
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = DefaultMinRate
	}
	var c calls
	bkt := cfg.Client.Bucket(cfg.Bucket)
	lctx, done := c.start(ctx, "list snapshots", cfg.CallTimeout, cfg.MinRate, 0)
	name, err := snapshotName(lctx, bkt, folder, cfg.Snapshot)
	err = done(err)
	if err != nil {
		return "", err
	}
	url := fmt.Sprintf("gs://%s/%s", cfg.Bucket, name)

	dst := filepath.Join(cfg.DataDir, store.FileName)
	if _, err := os.Stat(dst); err == nil {
		if !cfg.Force {
			return name, fmt.Errorf("%w (%s)", ErrDatabaseExists, dst)
		}
		// Taking its lock proves no collector holds it; the file is not
		// read past its meta pages, so a damaged one is set aside too.
		busy, err := store.InUse(dst, time.Second)
		if err != nil {
			return name, fmt.Errorf("restore: %w", err)
		}
		if busy {
			return name, fmt.Errorf("%w (%s)", ErrInUse, dst)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return name, fmt.Errorf("restore: %w", err)
	}
	tmp, err := download(ctx, &c, cfg, bkt, name)
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

// download copies an object into a new temporary file in the data folder,
// synced, and returns its path; each call has its deadline. The client
// checks the object's CRC32C as it reads.
func download(ctx context.Context, c *calls, cfg RestoreConfig, bkt *storage.BucketHandle, name string) (string, error) {
	actx, done := c.start(ctx, "read the size of "+name, cfg.CallTimeout, cfg.MinRate, 0)
	attrs, err := bkt.Object(name).Attrs(actx)
	if err = done(err); err != nil {
		return "", err
	}
	rctx, done := c.start(ctx, "download "+name, cfg.CallTimeout, cfg.MinRate, attrs.Size)
	r, err := bkt.Object(name).NewReader(rctx)
	if err != nil {
		return "", done(err)
	}
	defer r.Close()
	f, err := os.CreateTemp(cfg.DataDir, ".restore-*.db")
	if err != nil {
		return "", done(err)
	}
	_, err = io.Copy(f, r)
	err = done(err)
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

// Holds says what a collector's backup under prefix holds: "the snapshot
// NAME" (the newest), else "OBJECT" (any object under the prefix), or ""
// when it is empty. Each listing is bounded by timeout (zero means
// DefaultCallTimeout).
func Holds(ctx context.Context, client *storage.Client, bucket, prefix string, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	prefix = strings.Trim(prefix, "/")
	folder := SnapshotFolder + "/"
	if prefix != "" {
		folder = prefix + "/" + folder
	}
	var c calls
	// Few, short retries: a bucket that is down says so in seconds.
	bkt := client.Bucket(bucket).Retryer(storage.WithMaxAttempts(3),
		storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}))
	lctx, done := c.start(ctx, "list snapshots", timeout, DefaultMinRate, 0)
	name, err := snapshotName(lctx, bkt, folder, "latest")
	switch err = done(err); {
	case err == nil:
		return "the snapshot " + name, nil
	case !errors.Is(err, ErrNoSnapshot):
		return "", err
	}
	q := &storage.Query{Prefix: prefix}
	if prefix != "" {
		q.Prefix += "/"
	}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return "", err
	}
	lctx, done = c.start(ctx, "list the backup", timeout, DefaultMinRate, 0)
	a, err := bkt.Objects(lctx, q).Next()
	switch err = done(err); {
	case errors.Is(err, iterator.Done):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("list gs://%s/%s: %w", bucket, q.Prefix, err)
	}
	return "the object " + a.Name, nil
}
