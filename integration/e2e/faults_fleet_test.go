package e2e

import (
	"context"
	"testing"
	"time"

	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestFaultCollectorRestartDuringFleetCapture restarts the collector while
// two agents profile: the fleet capture still ends with a final result for
// every agent, none left pending.
func TestFaultCollectorRestartDuringFleetCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	c := newCollector(ctx, t, "")
	for _, id := range []string{"vm-r1", "vm-r2"} {
		newAgent(ctx, t, c, id, agentOpts{labels: []string{"pool=r"}, extra: []string{"--reconnect-max-backoff", "500ms"}})
	}
	fleetID, ids := startCapture(ctx, t, c, "pool=r", "--duration", "2s", "--deadline", "40s")
	if len(ids) != 2 {
		t.Fatalf("fleet capture on %v, want two agents", ids)
	}
	time.Sleep(700 * time.Millisecond) // the agents are profiling
	c.kill9()
	c.start(ctx)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	last := watchFleet(wctx, t, c, fleetID)
	if !last.GetDone() {
		t.Fatalf("fleet capture %s never finished: %v", fleetID, last)
	}
	for _, p := range last.GetAgents() {
		switch p.GetResult() {
		case collectorv1.AgentResult_AGENT_RESULT_DONE, collectorv1.AgentResult_AGENT_RESULT_FAILED,
			collectorv1.AgentResult_AGENT_RESULT_UNREACHABLE, collectorv1.AgentResult_AGENT_RESULT_BUSY:
		default:
			t.Errorf("agent %s left %v after the restart", p.GetAgentId(), p.GetResult())
		}
		t.Logf("agent %s: %v %s", p.GetAgentId(), p.GetResult(), p.GetMessage())
	}
	// Whatever the result, a capture the agents finished is not lost.
	for agentID, id := range ids {
		waitFor(ctx, t, "capture of "+agentID, func() bool {
			for _, l := range listCaptures(ctx, t, c) {
				if l.ID == id {
					return true
				}
			}
			return false
		})
	}
}

// watchFleet follows a fleet capture through the API until it is done or
// ctx ends, and returns the last state seen.
func watchFleet(ctx context.Context, t testing.TB, c *collector, fleetID string) *collectorv1.WatchFleetCaptureResponse {
	t.Helper()
	cc := dial(t, c.addr)
	var last *collectorv1.WatchFleetCaptureResponse
	for ctx.Err() == nil {
		stream, err := collectorv1.NewCollectorServiceClient(cc).WatchFleetCapture(ctx, &collectorv1.WatchFleetCaptureRequest{FleetId: fleetID})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				t.Logf("watch %s: %v", fleetID, err)
				break
			}
			last = m
			if m.GetDone() {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}
