package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeAgents is a registry stand-in: connected agents and what was sent.
type fakeAgents struct {
	mu     sync.Mutex
	agents []registry.Agent
	down   map[string]bool
	sent   map[string][]*agentv1.ControlResponse
}

func (f *fakeAgents) Connections(sel selector.Selector) []registry.Agent {
	var out []registry.Agent
	for _, a := range f.agents {
		if sel.Matches(a.Labels) {
			out = append(out, a)
		}
	}
	return out
}

func (f *fakeAgents) Send(id string, m *agentv1.ControlResponse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down[id] {
		return registry.ErrNotConnected
	}
	f.sent[id] = append(f.sent[id], m)
	return nil
}

func (f *fakeAgents) sentTo(id string) []*agentv1.ControlResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[id]
}

func newTracker(t *testing.T, ids ...string) (*Tracker, *fakeAgents, *store.DB) {
	t.Helper()
	db := storetest.Open(t)
	fa := &fakeAgents{down: map[string]bool{}, sent: map[string][]*agentv1.ControlResponse{}}
	for _, id := range ids {
		fa.agents = append(fa.agents, registry.Agent{ID: id, Labels: map[string]string{"pool": "p"}})
	}
	return New(Config{Agents: fa, Store: db, Tick: 10 * time.Millisecond}), fa, db
}

func state(t *testing.T, tr *Tracker, fleetID string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := map[string]string{}
	err := tr.Watch(ctx, fleetID, func(r *collectorv1.WatchFleetCaptureResponse) error {
		for _, a := range r.GetAgents() {
			out[a.GetAgentId()] = strings.TrimPrefix(a.GetResult().String(), "AGENT_RESULT_") + "/" + strings.TrimPrefix(a.GetState().String(), "CAPTURE_STATE_")
		}
		return errors.New("stop")
	})
	if err == nil || err.Error() != "stop" {
		t.Fatalf("Watch: %v", err)
	}
	return out
}

func TestStart(t *testing.T) {
	ctx := context.Background()
	tr, fa, db := newTracker(t, "a", "b", "c/with:odd chars")
	fa.down["b"] = true
	before := time.Now()
	resp, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{
		Selector: "pool=p", StartDelayMs: 250, Options: &agentv1.CaptureOptions{DurationMs: 1000},
		Labels: map[string]string{"experiment": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !store.ValidID(resp.GetFleetId()) || len(resp.GetAgents()) != 3 {
		t.Fatalf("Start = %v", resp)
	}
	ids := map[string]string{}
	for _, a := range resp.GetAgents() {
		ids[a.GetAgentId()] = a.GetCaptureId()
		if !store.ValidID(a.GetCaptureId()) || !strings.HasPrefix(a.GetCaptureId(), resp.GetFleetId()+".") {
			t.Errorf("capture id %q", a.GetCaptureId())
		}
	}
	if got := ids["c/with:odd chars"]; got != resp.GetFleetId()+".c_with_odd_chars" {
		t.Errorf("capture id of an odd agent id = %q", got)
	}
	if got, want := fmt.Sprint(state(t, tr, resp.GetFleetId())), "map[a:PENDING/UNSPECIFIED b:UNREACHABLE/UNSPECIFIED c/with:odd chars:PENDING/UNSPECIFIED]"; got != want {
		t.Errorf("state = %s, want %s", got, want)
	}
	cmd := fa.sentTo("a")[0].GetCapture()
	startAt, deadline := cmd.GetStartAt().AsTime(), cmd.GetDeadline().AsTime()
	if d := startAt.Sub(before); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("start_at %v after the request, want 250ms", d)
	}
	if d := deadline.Sub(startAt); d != time.Second+DefaultDeadlineSlack {
		t.Errorf("deadline %v after start_at, want duration + %v", d, DefaultDeadlineSlack)
	}
	// Every command is stored for ingest, with the request's labels.
	err = db.View(ctx, func(r *store.Reader) error {
		c, err := r.Command(ids["a"])
		if err == nil && (c.FleetID != resp.GetFleetId() || c.Trigger != "fleet" || c.Labels["experiment"] != "x") {
			err = fmt.Errorf("command = %+v", c)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if _, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=none"}); !errors.Is(err, ErrNoAgents) {
		t.Errorf("Start(no match) = %v, want ErrNoAgents", err)
	}
	if _, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=p", DeadlineMs: -1}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Start(negative deadline) = %v, want ErrBadRequest", err)
	}
}

func TestProgressAndDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, fa, _ := newTracker(t, "done", "busy", "failed", "silent", "stuck", "lost", "again")
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	resp, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=p", StartDelayMs: 1, DeadlineMs: 300})
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]string{}
	for _, a := range resp.GetAgents() {
		id[a.GetAgentId()] = a.GetCaptureId()
	}
	p := func(agent string, s agentv1.CaptureState, msg string) {
		tr.Progress(agent, &agentv1.CaptureProgress{CaptureId: id[agent], State: s, Message: msg})
	}
	p("done", agentv1.CaptureState_CAPTURE_STATE_UPLOADING, "")
	tr.Committed(&store.Capture{ID: id["done"], AgentID: "done"})
	p("busy", agentv1.CaptureState_CAPTURE_STATE_BUSY, "")
	p("failed", agentv1.CaptureState_CAPTURE_STATE_FAILED, "no device plane")
	p("stuck", agentv1.CaptureState_CAPTURE_STATE_TRIMMING, "")
	// Progress for another agent's capture is ignored.
	p("lost", agentv1.CaptureState_CAPTURE_STATE_ACCEPTED, "")
	tr.Progress("busy", &agentv1.CaptureProgress{CaptureId: id["stuck"], State: agentv1.CaptureState_CAPTURE_STATE_DONE})
	// "lost" restarts without the capture; "again" reconnects before
	// answering and gets its command again.
	tr.Disconnected("lost")
	tr.Connected("lost", &agentv1.Register{AgentId: "lost"})
	tr.Connected("again", &agentv1.Register{AgentId: "again"})
	if n := len(fa.sentTo("again")); n != 2 {
		t.Errorf("an agent that never answered got %d commands after reconnecting, want 2", n)
	}
	// A final result stays final.
	p("busy", agentv1.CaptureState_CAPTURE_STATE_DONE, "")

	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	var last *collectorv1.WatchFleetCaptureResponse
	if err := tr.Watch(wctx, resp.GetFleetId(), func(r *collectorv1.WatchFleetCaptureResponse) error { last = r; return nil }); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range last.GetAgents() {
		got[a.GetAgentId()] = strings.TrimPrefix(a.GetResult().String(), "AGENT_RESULT_") + ": " + a.GetMessage()
	}
	want := map[string]string{
		"done":   "DONE: committed",
		"busy":   "BUSY: busy",
		"failed": "FAILED: no device plane",
		"silent": "UNREACHABLE: no answer by the deadline",
		"stuck":  "FAILED: deadline passed while trimming",
		"lost":   "FAILED: agent reconnected without the capture (it restarted and lost it)",
		"again":  "UNREACHABLE: no answer by the deadline",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results:\n got %v\nwant %v", got, want)
	}
	if !last.GetDone() {
		t.Error("last state not done")
	}
	if c := fa.sentTo("stuck"); len(c) != 2 || c[1].GetCancel().GetCaptureId() != id["stuck"] {
		t.Errorf("stuck agent got %v, want its command and a cancel", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if err := tr.Watch(context.Background(), resp.GetFleetId(), func(*collectorv1.WatchFleetCaptureResponse) error { return nil }); err != nil {
		t.Errorf("Watch of a finished fleet after Run: %v, want its final state", err)
	}
}

// TestCommittedByAnotherAgent is issue 13's finding 1 at the fleet commit:
// a commit of a part's capture by an agent other than the one commanded
// does not make the part done; it is counted as refused.
func TestCommittedByAnotherAgent(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	tr, _, db := newTracker(t, "victim", "mallory")
	tr = New(Config{Agents: tr.cfg.Agents, Store: db, Tick: 10 * time.Millisecond, Registerer: reg})
	resp, err := tr.Start(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=p", StartDelayMs: 1, DeadlineMs: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]string{}
	for _, a := range resp.GetAgents() {
		id[a.GetAgentId()] = a.GetCaptureId()
	}
	tr.Committed(&store.Capture{ID: id["victim"], AgentID: "mallory"})
	if got := state(t, tr, resp.GetFleetId())["victim"]; got != "PENDING/UNSPECIFIED" {
		t.Errorf("victim's part after mallory's commit = %s, want still pending", got)
	}
	if got := testutil.ToFloat64(tr.refused.WithLabelValues("not_owner")); got != 1 {
		t.Errorf("refused{reason=not_owner} = %v, want 1", got)
	}
	tr.Committed(&store.Capture{ID: id["victim"], AgentID: "victim"})
	if got := state(t, tr, resp.GetFleetId())["victim"]; got != "DONE/DONE" {
		t.Errorf("victim's part after its own commit = %s, want DONE/DONE", got)
	}
}
