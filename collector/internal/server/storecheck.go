package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/backup"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Errors of the start-up check of the store.
var (
	// ErrDamagedStore means the database file is damaged (truncated,
	// inconsistent): the collector refuses to serve it.
	ErrDamagedStore = errors.New("server: the database is damaged; the collector will not serve it")
	// ErrStoreGone means the database file is missing or empty while the
	// GCS backup holds data: starting empty would hide it (and the next
	// snapshot would be of an empty database).
	ErrStoreGone = errors.New("server: the database is missing or empty but the GCS backup holds data")
	// ErrBackupUnknown means the database file is missing or empty and the
	// GCS backup could not be listed to tell whether it holds data.
	ErrBackupUnknown = errors.New("server: the database is missing or empty and the GCS backup could not be listed")
)

// DefaultCheckTimeout bounds the start-up check of the store.
const DefaultCheckTimeout = 5 * time.Minute

// checkStore checks the database file before it is opened (store.CheckFile,
// within CheckTimeout): a damaged file is refused with the restore command;
// a missing or 0-byte file is refused if the GCS backup holds anything,
// unless NewStore.
func checkStore(ctx context.Context, cfg Config, log *slog.Logger) error {
	path := filepath.Join(cfg.DataDir, store.FileName)
	if cfg.CheckTimeout < 0 {
		log.Warn("store check skipped (--check-timeout 0)", "path", path)
		return nil
	}
	timeout := cfg.CheckTimeout
	if timeout == 0 {
		timeout = DefaultCheckTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err := store.CheckFile(cctx, path, store.Options{})
	switch {
	case err == nil:
		log.Info("store checked", "path", path, "took", time.Since(start).Round(time.Millisecond))
		return nil
	case errors.Is(err, os.ErrNotExist), errors.Is(err, store.ErrEmptyFile):
		what := "missing"
		if errors.Is(err, store.ErrEmptyFile) {
			what = "empty (0 bytes)"
		}
		if cfg.Backup.Bucket == "" || cfg.NewStore {
			if what != "missing" {
				log.Warn("the database file is empty (0 bytes): starting a new database", "path", path)
			}
			return nil
		}
		found, err := backupHolds(ctx, cfg.Backup)
		if err != nil {
			return fmt.Errorf("%w: %s is %s, and gs://%s/%s: %w; fix the bucket's access and start again, or start with --new-store to begin an empty database",
				ErrBackupUnknown, path, what, cfg.Backup.Bucket, cfg.Backup.Prefix, err)
		}
		if found == "" {
			log.Info("new database: none here and none in the backup", "path", path, "bucket", cfg.Backup.Bucket)
			return nil
		}
		if !strings.HasPrefix(found, "the snapshot ") {
			return fmt.Errorf("%w: %s is %s, and %s is in gs://%s/%s but no database snapshot is: if this is not the bucket you meant, fix --gcs-bucket and --gcs-prefix; else start with --new-store to begin an empty database (the backup folders stay)",
				ErrStoreGone, path, what, found, cfg.Backup.Bucket, cfg.Backup.Prefix)
		}
		return fmt.Errorf("%w: %s is %s, and %s is in gs://%s/%s; restore it with `%s`, or start with --new-store to begin an empty database",
			ErrStoreGone, path, what, found, cfg.Backup.Bucket, cfg.Backup.Prefix, restoreCommand(cfg, what != "missing"))
	case errors.Is(err, store.ErrCheckTimeout):
		return fmt.Errorf("%w (--check-timeout %s): run `fleetprof-collector check --data %s` (no time limit) on the stopped collector, or raise --check-timeout (0 skips the check)",
			err, timeout, cfg.DataDir)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("%w: %w; restore the newest snapshot with `%s` (the damaged file is kept as fleetprof.db.replaced-<time>)",
			ErrDamagedStore, err, restoreCommand(cfg, true))
	}
	return err // locked by another collector, unreadable, a newer schema: Open says the same
}

// restoreCommand is the command that restores cfg's data folder.
func restoreCommand(cfg Config, force bool) string {
	var b strings.Builder
	b.WriteString("fleetprof-collector restore --gcs-bucket ")
	if cfg.Backup.Bucket == "" {
		b.WriteString("BUCKET [--gcs-prefix PREFIX]")
	} else {
		b.WriteString(cfg.Backup.Bucket)
		if cfg.Backup.Prefix != "" {
			b.WriteString(" --gcs-prefix " + cfg.Backup.Prefix)
		}
		if cfg.Backup.Endpoint != "" {
			b.WriteString(" --gcs-endpoint " + cfg.Backup.Endpoint)
		}
	}
	b.WriteString(" --data " + cfg.DataDir)
	if force {
		b.WriteString(" --force")
	}
	return b.String()
}

// backupHolds says what the backup bucket holds under the prefix ("the
// snapshot …" or "a capture backup …"), or "" if nothing; each listing
// has the backup's call deadline.
func backupHolds(ctx context.Context, bc BackupConfig) (string, error) {
	client, err := backup.NewClient(ctx, bc.Endpoint)
	if err != nil {
		return "", err
	}
	defer client.Close()
	return backup.Holds(ctx, client, bc.Bucket, bc.Prefix, bc.CallTimeout)
}
