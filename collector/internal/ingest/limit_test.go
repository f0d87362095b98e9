package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
)

func TestRates(t *testing.T) {
	ctx := context.Background()
	r := newRates(10_000, 10_000) // 10 kB/s, bucket 10 kB
	t0 := time.Now()
	if err := r.wait(ctx, "a", 10_000); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(ctx, "b", 10_000); err != nil { // another agent has its own bucket
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 100*time.Millisecond {
		t.Errorf("a full bucket waited %v", d)
	}
	t0 = time.Now()
	if err := r.wait(ctx, "a", 3_000); err != nil { // empty: 3 kB take 0.3 s
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("3 kB at 10 kB/s from an empty bucket took %v, want about 300ms", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.wait(cctx, "a", 10_000); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a canceled context = %v, want context.Canceled", err)
	}
	r.forgetIdle() // a and b emptied their buckets just now: kept
	if n := len(r.limiters); n != 2 {
		t.Errorf("%d buckets after forgetIdle, want 2", n)
	}
	fast := newRates(1e9, 10)
	_ = fast.wait(ctx, "a", 10)
	time.Sleep(time.Millisecond) // refills in 10 ns
	fast.forgetIdle()
	if n := len(fast.limiters); n != 0 {
		t.Errorf("%d buckets after an idle agent's refill, want 0", n)
	}
	none := newRates(0, 1)
	if err := none.wait(cctx, "a", 1<<30); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestMaxUploads(t *testing.T) {
	db := storetest.Open(t)
	in := New(Config{Store: db, MaxUploads: 2, MaxUploadsPerAgent: 1})
	for range 2 {
		if err := in.slots.take(); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.slots.take(); !errors.Is(err, ErrBusy) {
		t.Errorf("a third upload = %v, want ErrBusy", err)
	}
	in.slots.give()
	if err := in.slots.take(); err != nil {
		t.Errorf("an upload after one ended = %v", err)
	}
	if err := in.slots.takeAgent("a"); err != nil {
		t.Fatal(err)
	}
	if err := in.slots.takeAgent("a"); !errors.Is(err, ErrAgentBusy) {
		t.Errorf("a second upload of agent a = %v, want ErrAgentBusy", err)
	}
	if err := in.slots.takeAgent("b"); err != nil {
		t.Errorf("agent b's upload = %v", err)
	}
	in.slots.giveAgent("a")
	in.slots.giveAgent("b")
	if n := len(in.slots.byAgent); n != 0 {
		t.Errorf("%d agents still counted after their uploads ended", n)
	}
	if got := reason(ErrBusy); got != "busy" {
		t.Errorf("reason(ErrBusy) = %q", got)
	}
	if DefaultMaxCaptureBytes != 256<<20 {
		t.Errorf("DefaultMaxCaptureBytes = %d, want 256 MiB", DefaultMaxCaptureBytes)
	}
}
