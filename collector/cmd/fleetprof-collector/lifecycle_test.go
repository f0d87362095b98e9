package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fleetprof/fleetprof/collector/internal/backup"
	"github.com/fleetprof/fleetprof/collector/internal/retention"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

func TestLifecycleFlags(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "collector.yaml")
	if err := os.WriteFile(policy, []byte("retention:\n  rules:\n    - name: q\n      selector: model=q\n      max_age: 48h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, b retentionView)
	}{
		{
			name: "defaults: backup and retention off",
			args: nil,
			check: func(t *testing.T, b retentionView) {
				if b.bucket != "" || len(b.rules) != 0 || b.snapshot != time.Hour || b.workers != 2 {
					t.Errorf("defaults = %+v, want no bucket, no rules, 1h snapshots, 2 workers", b)
				}
			},
		},
		{
			name: "backup and flag rule",
			args: []string{"--gcs-bucket", "b", "--gcs-prefix", "fp/prod", "--gcs-endpoint", "http://127.0.0.1:1", "--backup-workers", "3",
				"--snapshot-interval", "0", "--retention-max-age", "30d", "--retention-max-bytes", "10GiB"},
			check: func(t *testing.T, b retentionView) {
				if b.bucket != "b" || b.prefix != "fp/prod" || b.workers != 3 || b.snapshot != -1 {
					t.Errorf("backup = %+v", b)
				}
				if len(b.rules) != 1 || b.rules[0].Name != "flags" || b.rules[0].MaxAge != retention.Duration(30*24*time.Hour) || b.rules[0].MaxBytes != 10<<30 {
					t.Errorf("rules = %+v, want one flags rule of 30d and 10GiB", b.rules)
				}
			},
		},
		{
			name: "config file then flags",
			args: []string{"--config", policy, "--retention-max-bytes", "1GB"},
			check: func(t *testing.T, b retentionView) {
				if len(b.rules) != 2 || b.rules[0].Name != "q" || b.rules[1].Name != "flags" || b.rules[1].MaxBytes != 1e9 {
					t.Errorf("rules = %+v, want q then flags", b.rules)
				}
			},
		},
		{name: "prefix without bucket", args: []string{"--gcs-prefix", "x"}, wantErr: "need --gcs-bucket"},
		{name: "bad size", args: []string{"--retention-max-bytes", "lots"}, wantErr: "not a size"},
		{name: "bad age", args: []string{"--retention-max-age", "old"}, wantErr: "not a duration"},
		{name: "negative snapshot", args: []string{"--snapshot-interval", "-1h"}, wantErr: "must not be negative"},
		{name: "missing config", args: []string{"--config", "/nonexistent/collector.yaml"}, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseFlags(append([]string{"--data", t.TempDir()}, tt.args...), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseFlags = %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, retentionView{
				bucket: cfg.Backup.Bucket, prefix: cfg.Backup.Prefix, workers: cfg.Backup.Workers,
				snapshot: cfg.Backup.SnapshotInterval, rules: cfg.Retention.Rules,
			})
		})
	}
}

// retentionView is what TestLifecycleFlags checks of a parsed config.
type retentionView struct {
	bucket, prefix string
	workers        int
	snapshot       time.Duration
	rules          []retention.Rule
}

func TestRestoreCommand(t *testing.T) {
	ctx := context.Background()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "bkt"})

	// A collector's database, snapshotted by the backup.
	db, err := store.Open(filepath.Join(t.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	client, err := backup.NewClient(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	b, err := backup.New(backup.Config{Store: db, Client: client, Bucket: "bkt", Prefix: "fp"})
	if err != nil {
		t.Fatal(err)
	}
	name, _, err := b.Snapshot(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "data")
	args := []string{"--gcs-bucket", "bkt", "--gcs-prefix", "fp", "--gcs-endpoint", srv.URL(), "--data", dir}
	var out, errOut bytes.Buffer
	if code := restoreMain(args, &out, &errOut); code != 0 {
		t.Fatalf("restore exited %d: %s", code, errOut.String())
	}
	if want := "restored gs://bkt/" + name + " into " + dir + "\n"; out.String() != want {
		t.Errorf("restore printed %q, want %q", out.String(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
		t.Error(err)
	}
	out.Reset()
	errOut.Reset()
	if code := restoreMain(args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "already holds a database") {
		t.Errorf("second restore exited %d (%s), want 1 and a refusal", code, errOut.String())
	}
	for _, bad := range [][]string{{"--data", dir}, {"--gcs-bucket", "bkt"}, {"--gcs-bucket", "bkt", "--data", dir, "extra"}} {
		if code := restoreMain(bad, io.Discard, io.Discard); code != 2 {
			t.Errorf("restore %q exited %d, want 2", bad, code)
		}
	}
}
