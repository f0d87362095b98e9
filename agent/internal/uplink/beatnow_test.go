package uplink

import (
	"context"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
)

// TestBeatNow: with a heartbeat interval of a minute, the first heartbeat
// goes right after registering and another at once on BeatNow (the model
// server's health changed), not an interval later.
func TestBeatNow(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{HeartbeatMS: 60_000})
	now := make(chan struct{}, 1)
	c, err := New(Options{Addr: fc.Addr, AgentID: "agent-1", Spool: spoolWith(t, t.TempDir(), nil), Handler: &handler{}, BeatNow: now,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	if !fc.Wait(10*time.Second, func() bool { return fc.Heartbeats() == 1 }) {
		t.Fatalf("heartbeats after registering: %d, want 1 at once", fc.Heartbeats())
	}
	now <- struct{}{}
	if !fc.Wait(10*time.Second, func() bool { return fc.Heartbeats() == 2 }) {
		t.Fatalf("heartbeats after BeatNow: %d, want 2", fc.Heartbeats())
	}
}
