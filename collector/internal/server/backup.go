package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/collector/internal/backup"
	"github.com/fleetprof/fleetprof/collector/internal/retention"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// BackupConfig configures the GCS backup of captures and database
// snapshots. The zero value (no bucket) turns backup off.
type BackupConfig struct {
	// Bucket is the GCS bucket. Empty turns backup off.
	Bucket string
	// Prefix is prepended to every object name. Empty means the bucket's root.
	Prefix string
	// Endpoint sends requests to a GCS emulator without credentials, e.g.
	// "http://127.0.0.1:4443". Empty means Google Cloud Storage with
	// Application Default Credentials (or STORAGE_EMULATOR_HOST if set).
	Endpoint string
	// Workers is how many captures upload at once. Zero means 2.
	Workers int
	// SnapshotInterval is how often the database is snapshotted. Zero
	// means 1 h; negative disables snapshots.
	SnapshotInterval time.Duration
	// MinBackoff is the first wait after a failed upload. Zero means 1 s.
	MinBackoff time.Duration
	// CallTimeout bounds each call to the bucket (plus the object's size
	// at 1 MiB/s). Zero means backup.DefaultCallTimeout.
	CallTimeout time.Duration
}

// lifecycle is the optional backup and the retention of a server.
type lifecycle struct {
	backup    *backup.Backup // nil when backup is off
	retention *retention.Retention
	close     func() error
}

// newLifecycle builds the backup (if a bucket is configured; it uploads
// each capture's summary row from summaries) and the retention. ctx only
// bounds setting up the storage client.
func newLifecycle(ctx context.Context, db *store.DB, bc BackupConfig, policy retention.Policy, dataDir string, summaries backup.Summaries, log *slog.Logger, reg prometheus.Registerer) (*lifecycle, error) {
	l := &lifecycle{close: func() error { return nil }}
	self := log.With("component", "server")
	var err error
	l.retention, err = retention.New(retention.Config{Store: db, Policy: policy, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	if bc.Bucket == "" {
		if len(policy.Rules) > 0 {
			self.Info("backup off (no --gcs-bucket): retention deletes captures without a copy in GCS")
		}
		return l, nil
	}
	client, err := backup.NewClient(ctx, bc.Endpoint)
	if err != nil {
		return nil, err
	}
	l.backup, err = backup.New(backup.Config{
		Store: db, Client: client, Bucket: bc.Bucket, Prefix: bc.Prefix, Workers: bc.Workers,
		SnapshotInterval: bc.SnapshotInterval, MinBackoff: bc.MinBackoff, CallTimeout: bc.CallTimeout, TempDir: filepath.Join(dataDir, "backup-tmp"),
		Summaries: summaries, Logger: log, Registerer: reg,
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	l.close = func() error {
		if err := client.Close(); err != nil {
			return fmt.Errorf("close cloud storage client: %w", err)
		}
		return nil
	}
	self.Info("backup on", "bucket", bc.Bucket, "prefix", bc.Prefix, "snapshot_interval", bc.SnapshotInterval)
	return l, nil
}

// analyzed queues a capture's backup once its report is stored.
func (l *lifecycle) analyzed(ctx context.Context, id string) {
	if l.backup != nil {
		l.backup.Enqueue(ctx, id)
	}
}

// run runs the backup and the retention in g until ctx ends.
func (l *lifecycle) run(ctx context.Context, g *errgroup.Group) {
	if l.backup != nil {
		g.Go(func() error { return l.backup.Run(ctx) })
	}
	g.Go(func() error { return l.retention.Run(ctx) })
}

// Backup is the server's GCS backup, nil when it is off (for tests and
// tools in-process).
func (s *Server) Backup() *backup.Backup { return s.life.backup }
