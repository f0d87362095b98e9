package gen

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var loadSeed = flag.Int64("seed", 0, "seed for TestLoadAgrees (0: a new one each run, logged)")

// TestLoadAgrees generates a capture with a random seed, writes it in every
// format and order, and checks that load.File finds exactly the generator's
// truth in each.
func TestLoadAgrees(t *testing.T) {
	seed := *loadSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	dir := t.TempDir()
	cases := []struct {
		name  string
		order Order
		write func(c *Capture, w io.Writer) error
	}{
		{"devices-first.trace.json", DevicesFirst, (*Capture).WriteJSON},
		{"devices-first.trace.json.gz", DevicesFirst, writeGzipJSON},
		{"devices-first.xplane.pb", DevicesFirst, (*Capture).WriteXSpace},
		{"host-first.trace.json.gz", HostFirst, writeGzipJSON},
		{"shuffled.trace.json", Shuffled, (*Capture).WriteJSON},
		{"shuffled.trace.json.gz", Shuffled, writeGzipJSON},
	}
	var truth *Truth
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Events: 50_000, Devices: 2, Seed: seed, Order: tc.order}
			c := mustNew(t, cfg)
			if truth == nil {
				var err error
				if truth, err = c.Truth(); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, tc.name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.write(c, f); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := load.File(context.Background(), path, load.Options{TempDir: dir})
			if err != nil {
				t.Fatalf("load.File(%s): %v", tc.name, err)
			}
			checkTruth(t, got, truth)
		})
	}
}

func writeGzipJSON(c *Capture, w io.Writer) error {
	zw := gzip.NewWriter(w)
	if err := c.WriteJSON(zw); err != nil {
		return err
	}
	return zw.Close()
}

// checkTruth compares a loaded capture with the truth, exactly.
func checkTruth(t *testing.T, c *capture.Capture, want *Truth) {
	t.Helper()
	// Times relative to the generator's base.
	shift := (c.BaseNS - want.Exact.BaseNS) * 1000
	rel := func(iv capture.Interval) [2]int64 { return [2]int64{iv.Start + shift, iv.End + shift} }
	var windows [][2]int64
	for _, w := range c.Windows {
		windows = append(windows, rel(w))
	}
	busy := map[string]int64{}
	ops := map[string]int64{}
	for _, p := range c.Devices() {
		busy[p.Name], ops[p.Name] = p.Busy, p.OpEvents
	}
	wantOps := map[string]int64{}
	for name, d := range want.Devices {
		wantOps[name] = d.OpEvents
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"events_total", c.EventsTotal, want.EventsTotal},
		{"events_kept", c.EventsKept(), want.EventsKept},
		{"device_op_events", c.DeviceOpEvents(), want.DeviceOpEvents},
		{"span (ps from the generator's base)", rel(c.Span), want.Exact.Span},
		{"windows (ps from the generator's base)", windows, want.Exact.Windows},
		{"busy ps per device", busy, want.Exact.Busy},
		{"op events per device", ops, wantOps},
		{"gap", c.Gap, int64(TruthGap)},
		{"pad", c.Pad, int64(TruthPad)},
	}
	for _, ck := range checks {
		if g, w := fmt.Sprint(ck.got), fmt.Sprint(ck.want); g != w {
			t.Errorf("%s = %s, want %s", ck.what, g, w)
		}
	}
}
