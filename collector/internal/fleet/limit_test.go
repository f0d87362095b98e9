package fleet

import (
	"context"
	"errors"
	"testing"

	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func TestMaxRunning(t *testing.T) {
	ctx := context.Background()
	tr, _, _ := newTracker(t, "a")
	tr.cfg.MaxRunning = 2
	for i := range 2 {
		if _, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{}); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	if _, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third fleet capture = %v, want ErrBusy", err)
	}
	// A finished one frees its place.
	tr.mu.Lock()
	for _, f := range tr.fleets {
		f.finished = f.parts[0].deadline
		break
	}
	tr.mu.Unlock()
	if _, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{}); err != nil {
		t.Errorf("start after one finished: %v", err)
	}
	if tr.starting != 0 {
		t.Errorf("starting = %d after the calls returned, want 0", tr.starting)
	}
}
