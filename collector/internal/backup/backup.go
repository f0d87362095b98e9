// Package backup copies the collector's captures and database to Google
// Cloud Storage.
//
// After a capture is committed and analyzed, its minimal set goes under
// gs://BUCKET/PREFIX/<UTC time>_<trigger>_<model>_<host>_<id>/: report.md,
// report.html, analysis/*.json (report.json and one file per section),
// images/*.svg, inputs/ (capture options, workload and context as JSON), the
// capture itself (capture.fpcap, as stored, and trace.json.gz for Perfetto)
// and, written last, checksums.txt in sha256sum's format; then the capture's
// summary row (newline-delimited JSON, docs/fleet.md) goes to
// PREFIX/summaries/v1/dt=<day>/<id>.ndjson. Work goes through a
// bounded queue to a few workers; each capture's backup status lives in its
// store record ("pending", "done", "failed: …"), so backups still pending
// when the collector stops resume when it starts again, and ingest never
// waits for the bucket. An object already in the bucket with the same MD5 is
// not uploaded again, so repeating a backup uploads nothing new.
//
// Every SnapshotInterval the whole database is written (tx.WriteTo, never a
// file copy) to a local temporary file, and that file uploaded to
// PREFIX/snapshots/<UTC time>.db: no read transaction is held while the
// bucket is slow. Restore rebuilds a data folder from such a snapshot.
//
// Every call to the bucket has a deadline (Config.CallTimeout, plus the
// object's size at Config.MinRate); State says which calls are in progress
// and how the last one failed.
//
// Credentials come only from Google's standard mechanisms (Application
// Default Credentials); NewClient's endpoint (or STORAGE_EMULATOR_HOST)
// points the client at an emulator instead.
package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/collector/internal/loop"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Errors.
var (
	// ErrNoBucket means no bucket was configured.
	ErrNoBucket = errors.New("backup: no bucket: give --gcs-bucket")
	// ErrNoSnapshot means the bucket holds no snapshot under the prefix.
	ErrNoSnapshot = errors.New("backup: no snapshot found under the prefix: check --gcs-bucket and --gcs-prefix")
	// ErrDatabaseExists means the data folder already holds a database.
	ErrDatabaseExists = errors.New("backup: the data folder already holds a database: restore into an empty folder, or give --force to set the old one aside")
	// ErrInUse means a running collector holds the database.
	ErrInUse = errors.New("backup: the database is in use: stop the collector before restoring")
	// ErrBadSnapshot means a downloaded snapshot is not a consistent database.
	ErrBadSnapshot = errors.New("backup: the snapshot is not a consistent database")
)

// Config configures a Backup. Store, Client and Bucket are required; the
// rest may be zero.
type Config struct {
	// Store holds the captures, their reports and backup statuses.
	Store *store.DB
	// Client talks to Cloud Storage (NewClient).
	Client *storage.Client
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is prepended to every object name ("a/b" → "a/b/…"). Empty
	// means the bucket's root.
	Prefix string
	// Workers is how many captures are uploaded at once. Zero means 2.
	Workers int
	// QueueSize bounds the captures waiting; more wait in the store for the
	// next rescan. Zero means 1024.
	QueueSize int
	// Attempts bounds the tries of one capture before it is marked failed
	// and left for the next rescan. Zero means 8.
	Attempts int
	// MinBackoff is the wait after the first failed try, doubled after each
	// one up to MaxBackoff, with ±20 % jitter. Zero means 1 s.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between tries. Zero means 2 min.
	MaxBackoff time.Duration
	// Rescan is how often the store is searched for captures whose backup is
	// pending or failed. Zero means 5 min.
	Rescan time.Duration
	// AttemptTimeout bounds one try of one capture (all its objects). Zero
	// means 15 min.
	AttemptTimeout time.Duration
	// CallTimeout bounds each call to Cloud Storage (a listing, an object
	// written or read, a snapshot), plus the object's size at MinRate: a
	// bucket that never answers fails the call instead of holding the
	// worker. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// MinRate is the slowest transfer, in bytes per second, an object's
	// call is given time for. Zero means DefaultMinRate.
	MinRate float64
	// SnapshotInterval is how often the database is snapshotted. Zero means
	// 1 h; negative disables snapshots.
	SnapshotInterval time.Duration
	// TempDir holds large objects (the capture and its trace) while they are
	// hashed and uploaded. New creates it and removes what a crash left in
	// it. Empty means os.TempDir(), left as it is.
	TempDir string
	// Summaries, if set, gives each capture's summary row, uploaded after
	// its folder to PREFIX/summaries/v1/dt=<day>/<id>.ndjson (SummaryName).
	// Nil uploads none.
	Summaries Summaries
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Backup uploads captures and snapshots.
type Backup struct {
	cfg    Config
	log    *slog.Logger
	bucket *storage.BucketHandle
	queue  chan string

	// mu guards queued: captures in the queue or being uploaded.
	mu     sync.Mutex
	queued map[string]bool

	calls calls // to the bucket, in progress, and how they went

	captures  *prometheus.CounterVec
	objects   *prometheus.CounterVec
	bytes     prometheus.Counter
	snapshots *prometheus.CounterVec
	snapBytes prometheus.Gauge
	snapTime  prometheus.Gauge
}

// New returns a Backup.
func New(cfg Config) (*Backup, error) {
	if cfg.Store == nil || cfg.Client == nil {
		return nil, errors.New("backup: New needs a store and a client")
	}
	if cfg.Bucket == "" {
		return nil, ErrNoBucket
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 8
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Minute
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = 5 * time.Minute
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 15 * time.Minute
	}
	if cfg.SnapshotInterval == 0 {
		cfg.SnapshotInterval = time.Hour
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = DefaultMinRate
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	} else if err := cleanTemp(cfg.TempDir); err != nil {
		return nil, err
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Backup{
		cfg: cfg,
		log: log.With("component", "backup"),
		// The client's own retries stay few and short, so a bucket that is
		// down shows as a failed try (and a status) within seconds; this
		// package's backoff does the rest.
		bucket: cfg.Client.Bucket(cfg.Bucket).Retryer(storage.WithMaxAttempts(3),
			storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2})),
		queue:  make(chan string, cfg.QueueSize),
		queued: map[string]bool{},
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_backups_total",
			Help: "Capture backups by result: done, retried (a try failed and will be repeated), failed (tries exhausted; left for the next rescan), gone (deleted before its backup).",
		}, []string{"result"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_backup_objects_total",
			Help: "Backup objects by result: uploaded, or unchanged (already in the bucket with the same MD5).",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_backup_bytes_total", Help: "Bytes of backup objects uploaded.",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_snapshots_total", Help: "Database snapshots by result: done or failed.",
		}, []string{"result"}),
		snapBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_collector_snapshot_bytes", Help: "Size of the last database snapshot uploaded.",
		}),
		snapTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_collector_snapshot_last_success_timestamp_seconds", Help: "When the last database snapshot was uploaded.",
		}),
	}
	if r := cfg.Registerer; r != nil {
		queueLen := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetprof_collector_backup_queue_length", Help: "Captures queued for backup or being uploaded.",
		}, func() float64 {
			b.mu.Lock()
			defer b.mu.Unlock()
			return float64(len(b.queued))
		})
		oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetprof_collector_backup_oldest_call_seconds",
			Help: "How long the oldest call to the bucket in progress has run (0: none); a call that never answers grows here until its deadline.",
		}, func() float64 { return b.calls.oldest().Seconds() })
		r.MustRegister(b.captures, b.objects, b.bytes, b.snapshots, b.snapBytes, b.snapTime, queueLen, oldest)
	}
	return b, nil
}

// Enqueue marks a committed, analyzed capture's backup pending in the store
// and queues it without waiting for the queue. When the queue is full the
// capture waits in the store for the next rescan. The mark is one short
// write that ctx's end does not abandon (only a closed store does): a
// capture analyzed as the collector stops is still backed up after the
// restart.
func (b *Backup) Enqueue(ctx context.Context, id string) {
	err := b.cfg.Store.Group(context.WithoutCancel(ctx), func(w *store.Writer) error {
		return w.SetBackupStatus(id, store.BackupPending)
	})
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		b.log.Warn("mark backup pending; the capture is not backed up", "capture_id", id, "error", err)
		return
	}
	b.push(id)
}

// push queues id unless it is queued already or the queue is full.
func (b *Backup) push(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.queued[id] {
		return true
	}
	select {
	case b.queue <- id:
		b.queued[id] = true
		return true
	default:
		return false
	}
}

// Run uploads queued captures and snapshots the database until ctx ends.
// It starts with a rescan, so backups pending at the last stop resume.
func (b *Backup) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	loop.Drain(ctx, g, b.cfg.Workers, b.queue, func(ctx context.Context, id string) {
		b.process(ctx, id)
		b.mu.Lock()
		delete(b.queued, id)
		b.mu.Unlock()
	})
	g.Go(func() error {
		b.rescan(ctx)
		return loop.Every(ctx, b.cfg.Rescan, b.rescan)
	})
	if b.cfg.SnapshotInterval > 0 {
		g.Go(func() error {
			return loop.Every(ctx, b.cfg.SnapshotInterval, func(ctx context.Context) {
				if _, _, err := b.Snapshot(ctx); err != nil && ctx.Err() == nil {
					b.log.Warn("database snapshot failed; next one at the next interval", "error", err)
				}
			})
		})
	}
	return g.Wait()
}

// rescan queues the captures whose backup is pending or failed, and the
// analyzed ones never queued, oldest first, as far as the queue has room.
func (b *Backup) rescan(ctx context.Context) {
	var ids []string
	err := b.cfg.Store.View(ctx, func(r *store.Reader) error {
		return r.Walk(func(c *store.Capture) bool {
			// Analyzed but never marked: the collector stopped between
			// storing the report and marking the backup pending (or backup
			// was off then). Found by the kill -9 soak.
			unmarked := c.BackupStatus == "" && c.Status != store.StatusCommitted
			if store.BackupUnsettled(c.BackupStatus) || unmarked {
				ids = append(ids, c.ID)
			}
			return true
		})
	})
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("rescan for pending backups", "error", err)
		}
		return
	}
	n := 0
	for _, id := range ids {
		if !b.push(id) {
			break
		}
		n++
	}
	if len(ids) > 0 {
		b.log.Info("pending backups queued", "captures", n, "waiting", len(ids)-n)
	}
}

// process backs up one capture, retrying with backoff, and records the
// outcome in the store.
func (b *Backup) process(ctx context.Context, id string) {
	log := b.log.With("capture_id", id)
	wait := b.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, b.cfg.AttemptTimeout)
		res, err := b.Capture(actx, id)
		cancel()
		if ctx.Err() != nil {
			return // still pending in the store: resumed at the next start
		}
		if errors.Is(err, store.ErrNotFound) {
			b.captures.WithLabelValues("gone").Inc()
			log.Info("capture deleted before its backup")
			return
		}
		status := store.BackupDone
		if err != nil {
			status = store.BackupFailedPrefix + shorten(err.Error(), 300)
		}
		if serr := b.setStatus(ctx, id, status); serr != nil && ctx.Err() == nil {
			log.Warn("record backup status", "error", serr)
		}
		if err == nil {
			b.captures.WithLabelValues("done").Inc()
			log.Info("capture backed up", "folder", b.URL(res.Folder), "uploaded", res.Uploaded, "unchanged", res.Unchanged, "bytes", res.Bytes)
			return
		}
		if attempt >= b.cfg.Attempts {
			b.captures.WithLabelValues("failed").Inc()
			log.Warn("capture backup failed; retried at the next rescan", "attempts", attempt, "error", err)
			return
		}
		b.captures.WithLabelValues("retried").Inc()
		d := jitter(wait)
		log.Info("capture backup failed; retrying", "attempt", attempt, "in", d.Round(time.Millisecond), "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, b.cfg.MaxBackoff)
	}
}

// setStatus records a capture's backup status.
func (b *Backup) setStatus(ctx context.Context, id, status string) error {
	err := b.cfg.Store.Group(ctx, func(w *store.Writer) error { return w.SetBackupStatus(id, status) })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// cleanTemp creates dir and removes the spool files a crash left in it.
func cleanTemp(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("backup: temporary folder: %w", err)
	}
	left, err := filepath.Glob(filepath.Join(dir, tempPattern))
	if err != nil {
		return fmt.Errorf("backup: temporary folder: %w", err)
	}
	for _, f := range left {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("backup: temporary folder: %w", err)
		}
	}
	return nil
}

// jitter spreads d by ±20 %.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// shorten cuts s to at most n bytes.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// name joins the prefix and parts into an object name.
func (b *Backup) name(parts ...string) string {
	if b.cfg.Prefix != "" {
		parts = append([]string{b.cfg.Prefix}, parts...)
	}
	return strings.Join(parts, "/")
}

// URL returns the gs:// URL of an object or folder name.
func (b *Backup) URL(name string) string { return fmt.Sprintf("gs://%s/%s", b.cfg.Bucket, name) }
