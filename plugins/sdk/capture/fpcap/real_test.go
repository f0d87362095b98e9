package fpcap_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// TestRealCapturesWithinLimits trims every real and generated fixture of
// ../shared/testdata and reads the .fpcap back with the default limits:
// none may come near a bound. The log shows how far each is from the
// expansion bound (BENCHMARKS.md).
func TestRealCapturesWithinLimits(t *testing.T) {
	root := fixtures.Dir(t)
	var files []string
	for _, pat := range []string{"real/*/*.xplane.pb", "real/*/*.json.gz", "real/*/*.json", "seed-replica/*.xplane.pb", "tiny/*.xplane.pb"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no fixtures under %s", root)
	}
	for _, f := range files {
		if filepath.Base(f) == "truth.json" {
			continue
		}
		name, _ := filepath.Rel(root, f)
		t.Run(name, func(t *testing.T) {
			c, err := load.File(context.Background(), f, load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Skipf("load: %v", err)
			}
			var buf bytes.Buffer
			if err := fpcap.Write(&buf, c); err != nil {
				t.Fatal(err)
			}
			in := buf.Bytes()
			got, err := fpcap.Read(bytes.NewReader(in))
			if err != nil {
				t.Fatalf("read back with the default limits: %v", err)
			}
			// The least expansion bound it passes, to 0.1.
			lo, hi := 0.0, float64(fpcap.DefaultMaxExpansion)
			for hi-lo > 0.1 {
				mid := (lo + hi) / 2
				if _, err := fpcap.ReadWith(bytes.NewReader(in), fpcap.Options{Limits: fpcap.Limits{MaxExpansion: mid}}); err != nil {
					lo = mid
				} else {
					hi = mid
				}
			}
			if hi > fpcap.DefaultMaxExpansion/2 {
				t.Errorf("needs expansion=%.1f, within 2x of the default %d", hi, fpcap.DefaultMaxExpansion)
			}
			t.Logf("%d bytes, %d events kept, %d planes; passes expansion=%.1f", len(in), got.EventsKept(), len(got.Planes), hi)
		})
	}
}
