package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// FuzzLoad feeds arbitrary bytes through detection, every reader and the
// trimmer: they must return a capture or an error, never panic or hang, and a
// capture they return must be consistent.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(miniJSON))
	f.Add(gz([]byte(miniJSON)))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":"1e3","dur":1}]}`))
	f.Add([]byte{0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, 0x61})
	f.Add([]byte("FPCAP\x00\x01\n\x00"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		c, err := File(ctx, p, Options{TempDir: dir})
		if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 4*time.Second {
			t.Fatalf("load took %v on %d bytes (%v)", time.Since(start), len(b), err)
		}
		if err != nil {
			return
		}
		if c.EventsKept() > c.EventsTotal && c.Source.Format != "fpcap" {
			t.Fatalf("kept %d of %d events", c.EventsKept(), c.EventsTotal)
		}
		for i := 1; i < len(c.Windows); i++ {
			if c.Windows[i].Start <= c.Windows[i-1].End {
				t.Fatalf("windows overlap: %v", c.Windows)
			}
		}
		_ = capture.Summarize(c)
	})
}
