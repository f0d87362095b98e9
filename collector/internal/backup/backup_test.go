package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

var created = time.Date(2026, 2, 5, 20, 15, 30, 123, time.UTC)

// wantObjects is every object of a test capture's folder.
var wantObjects = []string{
	"analysis/report.json", "analysis/top_ops.json", "capture.fpcap", "checksums.txt", "images/top_ops.svg",
	"inputs/capture_options.json", "inputs/context.json", "inputs/workload.json", "report.html", "report.md",
	"trace.json.gz",
}

func testOptions(t *testing.T) []byte {
	t.Helper()
	b, err := proto.Marshal(&agentv1.CaptureOptions{
		DurationMs: 2000, HostTracerLevel: 2,
		Workload: &agentv1.Workload{Endpoint: "/v1/score", Body: []byte(`{"text":"hi"}`), Warmups: 1, Requests: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCaptureUploadsMinimalSetOnce(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, fl := client(t, srv)
	db := storetest.Open(t)
	rec := addCapture(t, db, testCapture{
		id: "cap-1", host: "tpu-host-0", created: created, labels: map[string]string{"model": "qwen3 0.6b"},
		options: testOptions(t), context: map[string]string{"server.model_path": "Qwen/Qwen3-0.6B", "host": "tpu-host-0"},
	})
	reg := prometheus.NewRegistry()
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, Prefix: "/fleet/prod/", TempDir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}

	res, err := b.Capture(ctx, "cap-1")
	if err != nil {
		t.Fatal(err)
	}
	folder := "fleet/prod/20260205T201530Z_manual_qwen3-0.6b_tpu-host-0_cap-1"
	if res.Folder != folder || res.Uploaded != len(wantObjects) || res.Unchanged != 0 {
		t.Errorf("first Capture = %+v, want folder %s, %d uploaded, 0 unchanged", res, folder, len(wantObjects))
	}
	have := objects(t, gcs, "")
	var names []string
	for n := range have {
		names = append(names, strings.TrimPrefix(n, folder+"/"))
	}
	slices.Sort(names)
	if !slices.Equal(names, wantObjects) {
		t.Errorf("bucket holds %v, want %v", names, wantObjects)
	}
	listed := verifyFolder(t, gcs, folder)
	if len(listed) != len(wantObjects)-1 {
		t.Errorf("checksums.txt lists %d objects, want %d", len(listed), len(wantObjects)-1)
	}
	// checksums.txt is written last.
	sums := have[folder+"/"+ChecksumsName]
	for n, a := range have {
		if n != sums.Name && !a.Created.Before(sums.Created) && a.Generation >= sums.Generation {
			t.Errorf("%s (generation %d) was written after checksums.txt (generation %d)", n, a.Generation, sums.Generation)
		}
	}

	// The capture is the stored .fpcap; the trace opens as Chrome trace JSON.
	if got := sha256.Sum256(read(t, gcs, folder+"/capture.fpcap")); !bytes.Equal(got[:], rec.SHA256) {
		t.Errorf("capture.fpcap sha256 %x, want the record's %x", got, rec.SHA256)
	}
	zr, err := gzip.NewReader(bytes.NewReader(read(t, gcs, folder+"/trace.json.gz")))
	if err != nil {
		t.Fatal(err)
	}
	trace, err := io.ReadAll(zr)
	if err != nil || !json.Valid(trace) || !bytes.Contains(trace, []byte("fusion.1")) {
		t.Errorf("trace.json.gz does not hold the capture's trace JSON (err %v, %d bytes)", err, len(trace))
	}
	var wl struct {
		Endpoint string `json:"endpoint"`
		Requests int    `json:"requests"`
	}
	if err := json.Unmarshal(read(t, gcs, folder+"/inputs/workload.json"), &wl); err != nil || wl.Endpoint != "/v1/score" || wl.Requests != 3 {
		t.Errorf("inputs/workload.json = %+v (%v), want endpoint /v1/score, 3 requests", wl, err)
	}
	var opts map[string]any
	if err := json.Unmarshal(read(t, gcs, folder+"/inputs/capture_options.json"), &opts); err != nil || opts["duration_ms"] != "2000" || opts["workload"] != nil {
		t.Errorf("inputs/capture_options.json = %v (%v), want duration_ms 2000 and no workload", opts, err)
	}
	var cx struct {
		CaptureID string            `json:"capture_id"`
		Context   map[string]string `json:"context"`
	}
	if err := json.Unmarshal(read(t, gcs, folder+"/inputs/context.json"), &cx); err != nil || cx.CaptureID != "cap-1" || cx.Context["server.model_path"] != "Qwen/Qwen3-0.6B" {
		t.Errorf("inputs/context.json = %+v (%v)", cx, err)
	}
	if got := string(read(t, gcs, folder+"/analysis/top_ops.json")); !strings.Contains(got, `"title": "Top ops"`) {
		t.Errorf("analysis/top_ops.json = %s, want the section", got)
	}

	// Again: nothing is uploaded, no object gets a new generation.
	_, writesBefore, _ := fl.counts()
	res, err = b.Capture(ctx, "cap-1")
	if err != nil {
		t.Fatal(err)
	}
	_, writesAfter, _ := fl.counts()
	if res.Uploaded != 0 || res.Unchanged != len(wantObjects) || writesAfter != writesBefore {
		t.Errorf("second Capture = %+v with %d write requests, want 0 uploaded, %d unchanged, 0 writes", res, writesAfter-writesBefore, len(wantObjects))
	}
	for n, a := range objects(t, gcs, "") {
		if a.Generation != have[n].Generation {
			t.Errorf("%s: generation %d after the second backup, was %d", n, a.Generation, have[n].Generation)
		}
	}
	if got := testutil.ToFloat64(b.objects.WithLabelValues("uploaded")); got != float64(len(wantObjects)) {
		t.Errorf("objects uploaded metric = %v, want %d", got, len(wantObjects))
	}
	if got := testutil.ToFloat64(b.objects.WithLabelValues("unchanged")); got != float64(len(wantObjects)) {
		t.Errorf("objects unchanged metric = %v, want %d", got, len(wantObjects))
	}
}

func TestFailuresMidwayAreRetriedIngestUnaffected(t *testing.T) {
	srv := emulator(t)
	gcs, fl := client(t, srv)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{id: "cap-1", host: "h1", created: created})
	// Requests 1 (list) and 2–3 (uploads) pass, 4–9 fail: the first try
	// breaks mid-folder, the next ones fail outright, then the bucket heals.
	fl.set(func(f *flaky) { f.failFrom, f.failTo = 4, 10 })
	reg := prometheus.NewRegistry()
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: t.TempDir(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Attempts: 50, SnapshotInterval: -1, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = b.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	b.Enqueue(ctx, "cap-1")
	waitFor(t, "cap-1 backed up", func() bool { return backupStatus(t, db, "cap-1") == store.BackupDone })
	if _, _, failed := fl.counts(); failed != 6 {
		t.Errorf("%d requests failed, want 6", failed)
	}
	if got := testutil.ToFloat64(b.captures.WithLabelValues("retried")); got < 1 {
		t.Errorf("retried metric = %v, want at least 1", got)
	}
	verifyFolder(t, gcs, "20260205T201530Z_manual_unknown_h1_cap-1")
	// The two objects the broken try uploaded were not sent again.
	if got, want := testutil.ToFloat64(b.objects.WithLabelValues("unchanged")), 2.0; got != want {
		t.Errorf("objects unchanged after the retry = %v, want %v", got, want)
	}
	if got, want := testutil.ToFloat64(b.objects.WithLabelValues("uploaded")), float64(len(wantObjects)-1); got != want {
		t.Errorf("objects uploaded = %v, want %v (each once; no workload.json here)", got, want)
	}

	// The bucket goes down: backups fail and are retried, while commits
	// (ingest's transactions) go on at full speed.
	fl.set(func(f *flaky) { f.down = true })
	start := time.Now()
	for i := range 20 {
		addCapture(t, db, testCapture{id: "late-" + string(rune('a'+i)), host: "h2", created: created.Add(time.Duration(i+1) * time.Second)})
		b.Enqueue(ctx, "late-"+string(rune('a'+i)))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("20 commits and enqueues took %v while the bucket was down, want well under 5 s", took)
	}
	waitFor(t, "failed attempts recorded", func() bool {
		return strings.HasPrefix(backupStatus(t, db, "late-a"), store.BackupFailedPrefix)
	})
	fl.set(func(f *flaky) { f.down = false })
	for i := range 20 {
		id := "late-" + string(rune('a'+i))
		waitFor(t, id+" backed up", func() bool { return backupStatus(t, db, id) == store.BackupDone })
	}
	// The metric follows the store's status by a moment: wait for it, and
	// check that it stops at 21.
	done := func() float64 { return testutil.ToFloat64(b.captures.WithLabelValues("done")) }
	waitFor(t, "done metric at 21", func() bool { return done() >= 21 })
	if got := done(); got != 21 {
		t.Errorf("done metric = %v, want 21", got)
	}
}

func TestPendingBackupsResumeAfterRestart(t *testing.T) {
	srv := emulator(t)
	gcs, _ := client(t, srv)
	db := storetest.Open(t)
	for i, id := range []string{"a", "b", "c"} {
		addCapture(t, db, testCapture{id: id, host: "h", created: created.Add(time.Duration(i) * time.Minute)})
	}
	// A collector marked a and c pending, then stopped before uploading.
	err := db.Update(context.Background(), func(w *store.Writer) error {
		if err := w.SetBackupStatus("a", store.BackupPending); err != nil {
			return err
		}
		return w.SetBackupStatus("c", store.BackupFailedPrefix+"connection reset")
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: t.TempDir(), SnapshotInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	// b was analyzed but never marked (the collector stopped in between,
	// as the kill -9 soak found): the rescan backs it up too.
	waitFor(t, "a, b and c backed up", func() bool {
		return backupStatus(t, db, "a") == store.BackupDone && backupStatus(t, db, "b") == store.BackupDone &&
			backupStatus(t, db, "c") == store.BackupDone
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	var folders []string
	for n := range objects(t, gcs, "") {
		if strings.HasSuffix(n, "/"+ChecksumsName) {
			folders = append(folders, strings.TrimSuffix(n, "/"+ChecksumsName))
		}
	}
	slices.Sort(folders)
	want := []string{"20260205T201530Z_manual_unknown_h_a", "20260205T201630Z_manual_unknown_h_b", "20260205T201730Z_manual_unknown_h_c"}
	if !slices.Equal(folders, want) {
		t.Errorf("folders %v, want %v", folders, want)
	}
}

func TestFolder(t *testing.T) {
	tests := []struct {
		c    store.Capture
		want string
	}{
		{store.Capture{ID: "x1", CreatedNS: created.UnixNano(), Trigger: "schedule", Host: "tpu-0", Labels: map[string]string{"model": "qwen3"}},
			"20260205T201530Z_schedule_qwen3_tpu-0_x1"},
		{store.Capture{ID: "x_2", CreatedNS: created.UnixNano(), AgentID: "agent/7", Context: map[string]string{"model.model_path": "/models/Qwen3_0.6B/"}},
			"20260205T201530Z_manual_Qwen3-0.6B_agent-7_x_2"},
		{store.Capture{ID: "x3", CreatedNS: 0, Trigger: "fleet", Host: "h"},
			"19700101T000000Z_fleet_unknown_h_x3"},
	}
	for _, tt := range tests {
		if got := Folder(&tt.c); got != tt.want {
			t.Errorf("Folder(%s) = %q, want %q", tt.c.ID, got, tt.want)
		}
	}
}

func TestNewCleansTempDir(t *testing.T) {
	srv := emulator(t)
	gcs, _ := client(t, srv)
	dir := filepath.Join(t.TempDir(), "backup-tmp")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fleetprof-backup-123", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(Config{Store: storetest.Open(t), Client: gcs, Bucket: testBucket, TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 || left[0].Name() != "keep.txt" {
		t.Errorf("temporary folder holds %v after New, want only keep.txt", left)
	}
}
