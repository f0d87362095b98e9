package e2e

import (
	"testing"
	"time"
)

// TestFaultGCSDown backs captures up to a GCS emulator (fleetprof-gcsemu,
// persisting to a folder) that dies and comes back: while it is down a new
// capture is still ingested and analyzed at once, its backup fails and is
// retried, and once the emulator is back the backup completes.
func TestFaultGCSDown(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	gcsAddr := "127.0.0.1:0" // the kernel picks the port; the restart listens on the same
	root := t.TempDir()
	startGCS := func() *proc {
		p, addr := startGCSEmu(t, gcsAddr, "--bucket", "fp-test", "--root", root)
		gcsAddr = addr
		return p
	}
	gcs := startGCS()
	c := newCollector(ctx, t, "", "--gcs-bucket", "fp-test", "--gcs-endpoint", "http://"+gcsAddr, "--backup-workers", "1")
	newAgent(ctx, t, c, "vm-g", agentOpts{labels: []string{"vm=g"}})
	backup := func(id string) string {
		for _, l := range listCaptures(ctx, t, c) {
			if l.ID == id {
				return l.Backup
			}
		}
		return ""
	}
	res, errOut, code := fleetCapture(ctx, t, c, "vm=g")
	if code != 0 {
		t.Fatalf("capture: exit %d %+v\n%s", code, res, errOut)
	}
	first := res.Agents[0].CaptureID
	waitFor(ctx, t, "the first backup done", func() bool { return backup(first) == "done" })

	gcs.kill()
	gcs.wait(10 * time.Second)
	t0 := time.Now()
	res, errOut, code = fleetCapture(ctx, t, c, "vm=g")
	if code != 0 {
		t.Fatalf("capture with GCS down: exit %d %+v\n%s", code, res, errOut)
	}
	second := res.Agents[0].CaptureID
	waitFor(ctx, t, "the second capture analyzed with GCS down", func() bool {
		return waitCaptured(ctx, t, c, second).Status == "analyzed"
	})
	if d := time.Since(t0); d > 20*time.Second {
		t.Errorf("ingest and analysis took %v with GCS down", d)
	}
	waitFor(ctx, t, "a failed backup try counted as retried", func() bool {
		return num(c.metric(`fleetprof_collector_backups_total{result="retried"}`)) >= 1
	})
	if b := backup(second); b == "done" {
		t.Fatalf("backup of %s done while GCS is down", second)
	}
	startGCS()
	waitFor(ctx, t, "the second backup retried and done", func() bool { return backup(second) == "done" })
	if b := backup(first); b != "done" {
		t.Errorf("first backup now %q", b)
	}
}
