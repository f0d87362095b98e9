package fleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestRestore restarts the tracker over the same store while a fleet
// capture runs: the new tracker knows the fleet capture, an agent that
// reconnects with the capture pending goes on uploading, one that lost the
// command gets it again with the same start and deadline, and the parts
// nobody finishes end at their deadline: none stays pending.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	tr, _, db := newTracker(t, "a", "b", "c")
	resp, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{
		Selector: "pool=p", StartDelayMs: 50, DeadlineMs: 400, Options: &agentv1.CaptureOptions{DurationMs: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	fleetID := resp.GetFleetId()
	ids := map[string]string{}
	for _, a := range resp.GetAgents() {
		ids[a.GetAgentId()] = a.GetCaptureId()
	}

	// The collector restarts: a new tracker over the same store.
	fa2 := &fakeAgents{down: map[string]bool{}, sent: map[string][]*agentv1.ControlResponse{}}
	tr2 := New(Config{Agents: fa2, Store: db, Tick: 10 * time.Millisecond})
	n, err := tr2.Restore(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Restore = %d, %v; want 1 fleet capture", n, err)
	}
	if got, want := fmt.Sprint(state(t, tr2, fleetID)), "map[a:PENDING/UNSPECIFIED b:PENDING/UNSPECIFIED c:PENDING/UNSPECIFIED]"; got != want {
		t.Errorf("restored state = %s, want %s", got, want)
	}
	tr2.Connected("a", &agentv1.Register{PendingCaptures: []string{ids["a"]}})
	tr2.Connected("b", &agentv1.Register{})
	if got, want := fmt.Sprint(state(t, tr2, fleetID)), "map[a:PENDING/UPLOADING b:PENDING/UNSPECIFIED c:PENDING/UNSPECIFIED]"; got != want {
		t.Errorf("after reconnects = %s, want %s", got, want)
	}
	sent := fa2.sentTo("b")
	if len(sent) != 1 || sent[0].GetCapture().GetCaptureId() != ids["b"] {
		t.Fatalf("b got %v, want its command again", sent)
	}
	var orig store.Command
	_ = db.View(ctx, func(r *store.Reader) error {
		c, err := r.Command(ids["b"])
		if err == nil {
			orig = *c
		}
		return err
	})
	cmd := sent[0].GetCapture()
	if cmd.GetStartAt().AsTime().UnixNano() != orig.StartNS || cmd.GetDeadline().AsTime().UnixNano() != orig.DeadlineNS ||
		cmd.GetOptions().GetDurationMs() != 100 || cmd.GetFleetId() != fleetID {
		t.Errorf("resent command %v, stored %+v", cmd, orig)
	}
	// The deadline passes: every part ends.
	ctx2, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr2.Run(ctx2) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	var last *collectorv1.WatchFleetCaptureResponse
	err = tr2.Watch(wctx, fleetID, func(r *collectorv1.WatchFleetCaptureResponse) error { last = r; return nil })
	if err != nil || !last.GetDone() {
		t.Fatalf("Watch = %v, last %v; want done", err, last)
	}
	want := map[string]collectorv1.AgentResult{
		"a": collectorv1.AgentResult_AGENT_RESULT_FAILED, "b": collectorv1.AgentResult_AGENT_RESULT_UNREACHABLE,
		"c": collectorv1.AgentResult_AGENT_RESULT_UNREACHABLE,
	}
	for _, p := range last.GetAgents() {
		if p.GetResult() != want[p.GetAgentId()] {
			t.Errorf("%s ended %v (%s), want %v", p.GetAgentId(), p.GetResult(), p.GetMessage(), want[p.GetAgentId()])
		}
	}
	// Another restart restores it again (its commands stay until ingest's
	// stale sweep); its parts are past their deadline and end at once.
	if n, err := New(Config{Agents: fa2, Store: db}).Restore(ctx); err != nil || n != 1 {
		t.Errorf("second Restore = %d, %v", n, err)
	}
}
