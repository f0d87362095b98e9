package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/flagusage"
)

// checkMain runs `fleetprof-collector check` and returns the exit code: 0
// for a sound database, 1 for a damaged one (or one that cannot be
// checked), 2 for a usage error.
func checkMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagusage.NewFlagSet("fleetprof-collector check", "Usage: fleetprof-collector check --data DIR [--timeout D]\n\n"+
		"Checks the database in DIR as the collector does at start, without changing it: that it is\n"+
		"not empty or truncated, bbolt's consistency check, and the schema's invariants. Stop the\n"+
		"collector first (a running one holds the file).\n\n", stderr)
	var data string
	var timeout time.Duration
	fs.StringVar(&data, "data", "", "the collector's data folder (required)")
	fs.DurationVar(&timeout, "timeout", 0, "time limit of the check (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if data == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "fleetprof-collector check: --data is required, and nothing else")
		return 2
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	path := filepath.Join(data, store.FileName)
	start := time.Now()
	err := store.CheckFile(ctx, path, store.Options{Timeout: time.Second})
	if err != nil {
		fmt.Fprintf(stderr, "fleetprof-collector check: %v\n", err)
		if errors.Is(err, store.ErrCorrupt) || errors.Is(err, store.ErrEmptyFile) {
			fmt.Fprintf(stderr, "restore the newest snapshot: fleetprof-collector restore --gcs-bucket BUCKET [--gcs-prefix PREFIX] --data %s --force\n", data)
		}
		return 1
	}
	st, _ := os.Stat(path)
	fmt.Fprintf(stdout, "%s: consistent (%d MiB, checked in %s)\n", path, st.Size()>>20, time.Since(start).Round(time.Millisecond))
	return 0
}
