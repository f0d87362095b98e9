package backup

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// BenchmarkCapture backs up fixtures (trimmed, as an agent would upload
// them) to the emulator: "first" uploads every object, "again" finds them
// all unchanged.
func BenchmarkCapture(b *testing.B) {
	for _, f := range []struct{ name, path string }{
		{"seed-replica", "seed-replica/t1v-n-3d21a6bb-w-0.xplane.pb"},
		{"gpu-multi-worker", "real/xprof-gpu-multi-worker/34.83.195.179_6003.xplane.pb"},
	} {
		b.Run(f.name, func(b *testing.B) { benchCapture(b, fixtures.Path(b, f.path)) })
	}
}

func benchCapture(b *testing.B, path string) {
	ctx := context.Background()
	c, err := load.File(ctx, path, load.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data, sum := capturetest.Fpcap(c)
	t := &testing.T{}
	srv := emulator(t)
	defer srv.Stop()
	gcs, _ := client(t, srv)
	db, err := store.Open(filepath.Join(b.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	summary, _ := json.Marshal(capture.Summarize(c))
	report, _ := json.Marshal(map[string]any{"summary": json.RawMessage(summary), "sections": []any{}, "analyzed_ns": 1})
	err = db.Update(ctx, func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: "seed", AgentID: "a", Chunks: 1, Bytes: int64(len(data)), SHA256: sum}); err != nil {
			return err
		}
		_, err := w.StageChunk("seed", 0, 0, data)
		return err
	})
	if err == nil {
		err = db.Update(ctx, func(w *store.Writer) error {
			if err := w.Commit(&store.Capture{ID: "seed", AgentID: "a", CreatedNS: time.Now().UnixNano(), SizeBytes: int64(len(data)), SHA256: sum, Summary: summary}); err != nil {
				return err
			}
			if err := w.PutReport("seed", report); err != nil {
				return err
			}
			return w.SetStatus("seed", store.StatusAnalyzed, "")
		})
	}
	if err != nil {
		b.Fatal(err)
	}
	bk, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	for _, run := range []string{"first", "again"} {
		b.Run(run, func(b *testing.B) {
			var res Result
			for i := 0; b.Loop(); i++ {
				if run == "first" {
					b.StopTimer()
					for n := range objects(t, gcs, "") {
						if err := gcs.Bucket(testBucket).Object(n).Delete(ctx); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
				}
				if res, err = bk.Capture(ctx, "seed"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Uploaded), "uploaded/op")
			b.ReportMetric(float64(res.Bytes), "bytes_sent/op")
			b.ReportMetric(float64(len(data)), "fpcap_bytes")
		})
	}
}
