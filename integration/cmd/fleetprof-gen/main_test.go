package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/internal/gen"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	outs := []string{
		filepath.Join(dir, "a", "c.trace.json"),
		filepath.Join(dir, "a", "c.trace.json.gz"),
		filepath.Join(dir, "b", "c.xplane.pb"),
	}
	cfg := Config{Gen: gen.Config{Events: 20_000, Devices: 1, Seed: 5}, Outputs: outs, GzipLevel: 1}
	if err := run(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(outs, filepath.Join(dir, "a", "truth.json"), filepath.Join(dir, "b", "truth.json")) {
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if st.Size() == 0 {
			t.Errorf("%s is empty", p)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "b", "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		EventsTotal int64 `json:"events_total"`
	}
	if err := json.Unmarshal(b, &truth); err != nil || truth.EventsTotal != 20_000 {
		t.Errorf("truth.json events_total = %d (%v), want 20000", truth.EventsTotal, err)
	}
}

func TestRunErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Outputs: []string{filepath.Join(t.TempDir(), "c.pb")}},
		{Gen: gen.Config{Events: 100}, Outputs: []string{filepath.Join(t.TempDir(), "c.trace.json")}},
	} {
		if err := run(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("run(%+v) succeeded, want an error", cfg)
		}
	}
}
