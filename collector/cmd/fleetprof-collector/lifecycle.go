package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/backup"
	"github.com/fleetprof/fleetprof/collector/internal/retention"
	"github.com/fleetprof/fleetprof/collector/internal/server"

	"github.com/fleetprof/fleetprof/plugins/flagusage"
	"github.com/fleetprof/fleetprof/plugins/size"
)

// addLifecycleFlags adds the backup and retention flags to fs; the returned
// func, called after parsing, loads the policy file and checks them.
func addLifecycleFlags(fs *flag.FlagSet, cfg *server.Config) func() error {
	var policy string
	var maxAge time.Duration
	var maxBytes int64
	snapshot := time.Hour
	fs.StringVar(&cfg.Backup.Bucket, "gcs-bucket", "", "GCS bucket for capture backups and database snapshots (default: backup off)")
	fs.StringVar(&cfg.Backup.Prefix, "gcs-prefix", "", "object name prefix in the bucket, e.g. fleetprof/prod")
	fs.StringVar(&cfg.Backup.Endpoint, "gcs-endpoint", "", "GCS emulator URL, e.g. http://127.0.0.1:4443, used without credentials (default: Google Cloud Storage with Application Default Credentials)")
	fs.IntVar(&cfg.Backup.Workers, "backup-workers", 2, "captures uploaded to GCS at once")
	fs.DurationVar(&cfg.Backup.CallTimeout, "gcs-timeout", backup.DefaultCallTimeout, "time limit of each call to GCS (listing, object, snapshot), plus the object's size at 1 MiB/s")
	fs.DurationVar(&snapshot, "snapshot-interval", time.Hour, "how often the database is snapshotted to GCS (0 disables)")
	fs.Func("retention-max-age", "delete captures older than this, e.g. 720h or 30d (default: no limit)", func(s string) error {
		d, err := retention.ParseDuration(s)
		maxAge = d
		return err
	})
	fs.Func("retention-max-bytes", "delete the oldest captures while they hold more than this, e.g. 50GiB (default: no limit)", func(s string) error {
		n, err := size.Parse(s)
		maxBytes = n
		return err
	})
	fs.StringVar(&policy, "config", "", "policy file (YAML) with retention rules per label selector")
	return func() error {
		if cfg.Backup.Bucket == "" && (cfg.Backup.Prefix != "" || cfg.Backup.Endpoint != "") {
			return errors.New("--gcs-prefix and --gcs-endpoint need --gcs-bucket")
		}
		if cfg.Backup.Workers < 1 {
			return errors.New("--backup-workers must be at least 1")
		}
		if cfg.Backup.CallTimeout <= 0 {
			return errors.New("--gcs-timeout must be positive")
		}
		switch {
		case snapshot < 0:
			return errors.New("--snapshot-interval must not be negative")
		case snapshot == 0:
			cfg.Backup.SnapshotInterval = -1
		default:
			cfg.Backup.SnapshotInterval = snapshot
		}
		if policy != "" {
			f, err := retention.Load(policy)
			if err != nil {
				return err
			}
			cfg.Retention = f.Retention
		}
		if maxAge < 0 || maxBytes < 0 {
			return errors.New("--retention-max-age and --retention-max-bytes must not be negative")
		}
		if maxAge > 0 || maxBytes > 0 {
			cfg.Retention.Rules = append(cfg.Retention.Rules, retention.Rule{
				Name: "flags", MaxAge: retention.Duration(maxAge), MaxBytes: size.Bytes(maxBytes),
			})
		}
		return cfg.Retention.Validate()
	}
}

// restoreMain runs `fleetprof-collector restore` and returns the exit code.
func restoreMain(args []string, stdout, stderr io.Writer) int {
	cfg, level, err := parseRestoreFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetprof-collector restore: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runRestore(ctx, cfg, stdout); err != nil {
		cfg.Logger.Error("restore failed", "error", err)
		return 1
	}
	return 0
}

// restoreConfig is what `restore` is told.
type restoreConfig struct {
	backup.RestoreConfig
	Endpoint string
}

// parseRestoreFlags parses `restore`'s command line.
func parseRestoreFlags(args []string, stderr io.Writer) (restoreConfig, slog.Level, error) {
	var cfg restoreConfig
	var level slog.Level
	fs := flagusage.NewFlagSet("fleetprof-collector restore", "Usage: fleetprof-collector restore --gcs-bucket BUCKET [--gcs-prefix PREFIX] [--snapshot NAME|latest] --data DIR [--force]\n\n"+
		"Downloads a database snapshot from PREFIX/snapshots/ into DIR/fleetprof.db, after checking it\n"+
		"opens and is consistent. Stop the collector first; an existing database is refused unless\n"+
		"--force, which keeps it as fleetprof.db.replaced-<time>.\n\n", stderr)
	fs.StringVar(&cfg.Bucket, "gcs-bucket", "", "GCS bucket holding the snapshots (required)")
	fs.StringVar(&cfg.Prefix, "gcs-prefix", "", "object name prefix the collector used")
	fs.StringVar(&cfg.Endpoint, "gcs-endpoint", "", "GCS emulator URL, used without credentials")
	fs.StringVar(&cfg.Snapshot, "snapshot", "latest", "snapshot to restore: latest, a time like 20260205T201530Z, or an object name")
	fs.StringVar(&cfg.DataDir, "data", "", "data folder to restore into (required)")
	fs.BoolVar(&cfg.Force, "force", false, "replace an existing database, keeping it as fleetprof.db.replaced-<time>")
	fs.DurationVar(&cfg.CallTimeout, "gcs-timeout", backup.DefaultCallTimeout, "time limit of each call to GCS, plus the object's size at 1 MiB/s")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return cfg, level, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, level, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.Bucket == "":
		return cfg, level, errors.New("--gcs-bucket is required")
	case cfg.DataDir == "":
		return cfg, level, errors.New("--data is required")
	}
	return cfg, level, nil
}

// runRestore restores a snapshot.
func runRestore(ctx context.Context, cfg restoreConfig, stdout io.Writer) error {
	client, err := backup.NewClient(ctx, cfg.Endpoint)
	if err != nil {
		return err
	}
	defer client.Close()
	cfg.Client = client
	name, err := backup.Restore(ctx, cfg.RestoreConfig)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored gs://%s/%s into %s\n", cfg.Bucket, name, cfg.DataDir)
	return nil
}
