package uplink

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/agent/internal/metrics"
	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// spoolOrdered spools captures in the order given (oldest first).
func spoolOrdered(t *testing.T, dir string, ids ...string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	for i, id := range ids {
		b := randomBytes(1000+i, uint64(i))
		if _, err := sp.Put(spool.Meta{CaptureID: id, Created: t0.Add(time.Duration(i) * time.Second)},
			func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			t.Fatal(err)
		}
	}
	return sp
}

// startWith runs a Client with metrics and an OnRejected hook.
func startWith(t *testing.T, addr string, sp *spool.Spool, m *metrics.Metrics, onRejected func(spool.Meta, string)) {
	t.Helper()
	c, err := New(Options{Addr: addr, AgentID: "agent-1", Spool: sp, Handler: &handler{},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AckTimeout: 5 * time.Second,
		Metrics: m, OnRejected: onRejected})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
}

// attempts counts upload attempts per capture (each test capture is one chunk).
type attempts struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *attempts) add(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[id]++
	return a.n[id]
}

func (a *attempts) get(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[id]
}

// TestRejectedDoesNotBlock is issue 13's finding 5: a capture the collector
// refuses for good (too large, not this agent's) and one whose spool file
// changed on disk are moved to rejected/ with the reason, reported (metric,
// FAILED progress with the reason) and never retried; the captures spooled
// after them are uploaded.
func TestRejectedDoesNotBlock(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	dir := t.TempDir()
	sp := spoolOrdered(t, dir, "a-too-large", "b-good", "c-corrupt", "d-forbidden", "e-good")
	// One byte of c changes on disk after it was spooled.
	f, err := os.OpenFile(filepath.Join(dir, "c-corrupt.fpcap"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("!"), 100)
	f.Close()
	var tries attempts
	fc.OnChunk(func(id string, seq int64) error {
		tries.add(id)
		switch id {
		case "a-too-large":
			return status.Error(codes.InvalidArgument, "ingest: capture too large: a-too-large announces 1000 bytes, the limit is 10")
		case "d-forbidden":
			return status.Error(codes.PermissionDenied, "ingest: capture belongs to another agent: d-forbidden")
		}
		return nil
	})
	m := metrics.New(prometheus.NewRegistry())
	var rejected sync.Map
	startWith(t, fc.Addr, sp, m, func(meta spool.Meta, why string) { rejected.Store(meta.CaptureID, why) })
	if !fc.Wait(20*time.Second, func() bool { return len(sp.List()) == 0 }) {
		t.Fatalf("spool still holds %v", sp.IDs())
	}
	for _, id := range []string{"b-good", "e-good"} {
		if _, ok := fc.Committed(id); !ok {
			t.Errorf("%s not committed", id)
		}
	}
	rej, err := sp.Rejected()
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range rej {
		reasons[r.Meta.CaptureID] = r.Reason
		if r.Path == "" {
			t.Errorf("rejected %s has no capture file", r.Meta.CaptureID)
		}
	}
	for id, want := range map[string]string{"a-too-large": "InvalidArgument): ingest: capture too large", "c-corrupt": "sha256", "d-forbidden": "PermissionDenied"} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("rejected %s: reason %q, want it to say %q", id, reasons[id], want)
		}
		if _, ok := rejected.Load(id); !ok {
			t.Errorf("OnRejected not called for %s", id)
		}
	}
	time.Sleep(300 * time.Millisecond) // past the longest backoff: nothing is retried
	for id, want := range map[string]int{"a-too-large": 1, "c-corrupt": 0, "d-forbidden": 1} {
		if got := tries.get(id); got != want {
			t.Errorf("%s sent %d times, want %d", id, got, want)
		}
	}
	for label, want := range map[string]float64{"invalid_argument": 1, "permission_denied": 1, "corrupt": 1} {
		if got := testutil.ToFloat64(m.UploadsRejected.WithLabelValues(label)); got != want {
			t.Errorf("uploads_rejected_total{reason=%s} = %v, want %v", label, got, want)
		}
	}
	// The collector hears why, as the capture's FAILED progress.
	if !fc.Wait(5*time.Second, func() bool { return len(failed(fc.Progress())) == 3 }) {
		t.Fatalf("progress = %v, want a FAILED report for each rejected capture", fc.Progress())
	}
	msgs := failed(fc.Progress())
	if !strings.Contains(msgs["a-too-large"], "too large") || !strings.Contains(msgs["a-too-large"], filepath.Join(dir, spool.RejectedDir)) {
		t.Errorf("a-too-large's FAILED message = %q, want the reason and where it is kept", msgs["a-too-large"])
	}
}

// failed returns the FAILED progress messages by capture id.
func failed(ps []*agentv1.CaptureProgress) map[string]string {
	out := map[string]string{}
	for _, p := range ps {
		if p.GetState() == agentv1.CaptureState_CAPTURE_STATE_FAILED {
			out[p.GetCaptureId()] = p.GetMessage()
		}
	}
	return out
}

// TestRetriedErrorsBackOff is issue 13's findings 5 and 11 on the agent: a
// capture whose attempts keep failing with a retryable error (Internal)
// backs off on its own while the later ones upload; ResourceExhausted (the
// collector out of storage) is retried with backoff, never rejected, and
// the capture commits once the collector takes it again.
func TestRetriedErrorsBackOff(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	sp := spoolOrdered(t, t.TempDir(), "a-internal", "b-good", "c-full")
	var tries attempts
	var full atomic.Bool
	full.Store(true)
	fc.OnChunk(func(id string, seq int64) error {
		tries.add(id)
		switch {
		case id == "a-internal":
			return status.Error(codes.Internal, "internal error (see the collector's log)")
		case id == "c-full" && full.Load():
			return status.Error(codes.ResourceExhausted, "collector storage exhausted (no space left on device); retry later")
		}
		return nil
	})
	m := metrics.New(prometheus.NewRegistry())
	startWith(t, fc.Addr, sp, m, nil)
	if !fc.Wait(20*time.Second, func() bool { _, ok := fc.Committed("b-good"); return ok }) {
		t.Fatal("b-good never uploaded behind a failing capture")
	}
	if !fc.Wait(10*time.Second, func() bool { return tries.get("c-full") >= 3 }) {
		t.Fatalf("c-full tried %d times, want retries", tries.get("c-full"))
	}
	full.Store(false) // space freed
	if !fc.Wait(20*time.Second, func() bool { _, ok := fc.Committed("c-full"); return ok }) {
		t.Fatal("c-full not committed once the collector had space again")
	}
	if rej, _ := sp.Rejected(); len(rej) != 0 {
		t.Errorf("retryable failures were rejected: %+v", rej)
	}
	if !fc.Wait(5*time.Second, func() bool { ids := sp.IDs(); return len(ids) == 1 && ids[0] == "a-internal" }) {
		t.Errorf("spool holds %v, want only a-internal (still retried)", sp.IDs())
	}
	// Backoff: over a second, a capture failing at once is retried a few
	// times (20 ms doubling to 200 ms), not hundreds.
	n0 := tries.get("a-internal")
	time.Sleep(time.Second)
	if n := tries.get("a-internal") - n0; n < 2 || n > 20 {
		t.Errorf("a-internal retried %d times in a second, want a backoff of 20-200 ms", n)
	}
	if got := testutil.ToFloat64(m.UploadFailures.WithLabelValues("ResourceExhausted")); got < 3 {
		t.Errorf("upload_failures_total{code=ResourceExhausted} = %v, want at least 3", got)
	}
}
