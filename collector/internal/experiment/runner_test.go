package experiment

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeFleet takes fleet captures on two agents at once: each agent's part
// is done (its capture committed in the store with status) unless results
// says otherwise for that start.
type fakeFleet struct {
	db     *store.DB
	status string // committed captures' status

	mu      sync.Mutex
	starts  []*collectorv1.StartCaptureRequest
	origins []fleet.Origin
	errs    []error                     // returned by the starts, in order; nil entries start
	results [][]collectorv1.AgentResult // per start; default both done
	known   map[string]*collectorv1.WatchFleetCaptureResponse
}

func (f *fakeFleet) StartFor(ctx context.Context, req *collectorv1.StartCaptureRequest, o fleet.Origin) (*collectorv1.StartCaptureResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.starts)
	f.starts = append(f.starts, req)
	f.origins = append(f.origins, o)
	if n < len(f.errs) && f.errs[n] != nil {
		return nil, f.errs[n]
	}
	id := fmt.Sprintf("f-%d", n)
	results := []collectorv1.AgentResult{collectorv1.AgentResult_AGENT_RESULT_DONE, collectorv1.AgentResult_AGENT_RESULT_DONE}
	if n < len(f.results) && f.results[n] != nil {
		results = f.results[n]
	}
	resp := &collectorv1.WatchFleetCaptureResponse{FleetId: id, Done: true}
	for i, r := range results {
		agent := fmt.Sprintf("agent-%d", i)
		cid := id + "." + agent
		resp.Agents = append(resp.Agents, &collectorv1.AgentCapture{AgentId: agent, CaptureId: cid, Result: r, Message: "msg"})
		if r == collectorv1.AgentResult_AGENT_RESULT_DONE {
			if err := commitCapture(ctx, f.db, cid, f.status); err != nil {
				return nil, err
			}
		}
	}
	if f.known == nil {
		f.known = map[string]*collectorv1.WatchFleetCaptureResponse{}
	}
	f.known[id] = resp
	return &collectorv1.StartCaptureResponse{FleetId: id}, nil
}

func (f *fakeFleet) Watch(ctx context.Context, id string, send func(*collectorv1.WatchFleetCaptureResponse) error) error {
	f.mu.Lock()
	resp := f.known[id]
	f.mu.Unlock()
	if resp == nil {
		return fmt.Errorf("%w: %q", fleet.ErrNotFound, id)
	}
	return send(resp)
}

func (f *fakeFleet) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts)
}

// commitCapture stores a one-chunk capture with a status.
func commitCapture(ctx context.Context, db *store.DB, id, status string) error {
	data := []byte("FPCAP")
	sum := sha256.Sum256(data)
	return db.Update(ctx, func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "a", Chunks: 1, Bytes: int64(len(data)), SHA256: sum[:]}); err != nil {
			return err
		}
		if _, err := w.StageChunk(id, 0, 0, data); err != nil {
			return err
		}
		return w.Commit(&store.Capture{ID: id, AgentID: "a", CreatedNS: time.Now().UnixNano(), Status: status, SizeBytes: int64(len(data))})
	})
}

// runUntil runs r until the experiment id has finished (or fails the test
// after 10 s), and returns it.
func runUntil(t *testing.T, r *Runner, id string) *store.Experiment {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e, err := r.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != store.ExperimentRunning {
			return e
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("experiment %s still running after 10 s", id)
	return nil
}

func smallSpec() *collectorv1.ExperimentSpec {
	return &collectorv1.ExperimentSpec{
		Selector: "model=qwen3", WorkloadBody: []byte(seedScore), Labels: map[string]string{"team": "perf"},
		Vary:    []*collectorv1.Parameter{{Name: ParamInputLen, Values: []int64{128, 512}}, {Name: ParamBatch, Values: []int64{1, 4}}},
		Options: &agentv1.CaptureOptions{DurationMs: 100},
	}
}

func TestRun(t *testing.T) {
	db := storetest.Open(t)
	f := &fakeFleet{db: db, status: store.StatusAnalyzed}
	r := New(Config{Store: db, Fleet: f, Poll: time.Millisecond})
	e, err := r.Start(context.Background(), smallSpec(), Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Cells) != 4 || e.Status != store.ExperimentRunning || e.Trigger != "manual" {
		t.Fatalf("started %+v", e)
	}
	got := runUntil(t, r, e.ID)
	if got.Status != store.ExperimentDone || got.Message != "4 of 4 cells captured" || got.FinishedNS == 0 {
		t.Errorf("experiment = %s %q", got.Status, got.Message)
	}
	if f.startCount() != 4 {
		t.Fatalf("%d fleet captures, want one per cell", f.startCount())
	}
	for i, c := range got.Cells {
		want := []string{fmt.Sprintf("f-%d.agent-0", i), fmt.Sprintf("f-%d.agent-1", i)}
		if c.Status != store.ExperimentDone || c.FleetID != fmt.Sprintf("f-%d", i) || strings.Join(c.CaptureIDs, ",") != strings.Join(want, ",") {
			t.Errorf("cell %d = %+v", i, c)
		}
		req := f.starts[i]
		if req.GetSelector() != "model=qwen3" || req.GetLabels()[LabelExperiment] != e.ID || req.GetLabels()[LabelCell] != fmt.Sprint(i) ||
			req.GetLabels()["team"] != "perf" || req.GetOptions().GetDurationMs() != 100 {
			t.Errorf("start %d = %v", i, req)
		}
		var wl agentv1.Workload
		_ = proto.Unmarshal(c.Workload, &wl)
		if !proto.Equal(req.GetOptions().GetWorkload(), &wl) {
			t.Errorf("start %d sent workload %v, want the cell's %v", i, req.GetOptions().GetWorkload(), &wl)
		}
		if f.origins[i].Trigger != "fleet" {
			t.Errorf("origin %d = %+v", i, f.origins[i])
		}
	}
}

func TestRunFailures(t *testing.T) {
	done, busy, failed := collectorv1.AgentResult_AGENT_RESULT_DONE, collectorv1.AgentResult_AGENT_RESULT_BUSY, collectorv1.AgentResult_AGENT_RESULT_FAILED
	tests := []struct {
		name     string
		errs     []error
		results  [][]collectorv1.AgentResult
		status   string
		starts   int
		cell0    string // cell 0's status
		cell0Msg string
		message  string
	}{
		{
			name: "no agents", errs: []error{fmt.Errorf("%w (%q)", fleet.ErrNoAgents, "model=qwen3")},
			status: store.ExperimentFailed, starts: 1, cell0: store.ExperimentFailed, cell0Msg: "fleet: no connected agent", message: "no connected agent",
		},
		{
			name: "too many fleet captures, then started", errs: []error{fleet.ErrBusy, fleet.ErrBusy},
			status: store.ExperimentDone, starts: 6, cell0: store.ExperimentDone, cell0Msg: "2 capture(s)", message: "4 of 4 cells captured",
		},
		{
			name: "every agent busy, then captured", results: [][]collectorv1.AgentResult{{busy, busy}},
			status: store.ExperimentDone, starts: 5, cell0: store.ExperimentDone, cell0Msg: "2 capture(s)", message: "4 of 4 cells captured",
		},
		{
			name: "one agent failed", results: [][]collectorv1.AgentResult{{done, failed}},
			status: store.ExperimentDone, starts: 4, cell0: store.ExperimentDone, cell0Msg: "1 capture(s); agent-1 failed: msg", message: "4 of 4 cells captured",
		},
		{
			name: "every part failed", results: [][]collectorv1.AgentResult{{failed, failed}, {failed, failed}, {failed, failed}, {failed, failed}},
			status: store.ExperimentFailed, starts: 4, cell0: store.ExperimentFailed, cell0Msg: "0 capture(s); agent-0 failed", message: "0 of 4 cells captured",
		},
		{
			name: "an unexpected start error fails the cell only", errs: []error{errors.New("boom")},
			status: store.ExperimentDone, starts: 4, cell0: store.ExperimentFailed, cell0Msg: "boom", message: "3 of 4 cells captured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.Open(t)
			f := &fakeFleet{db: db, status: store.StatusAnalyzed, errs: tt.errs, results: tt.results}
			r := New(Config{Store: db, Fleet: f, Retry: time.Millisecond, Attempts: 3, Poll: time.Millisecond})
			e, err := r.Start(context.Background(), smallSpec(), Origin{Trigger: "schedule", ScheduleID: "s-1"})
			if err != nil {
				t.Fatal(err)
			}
			got := runUntil(t, r, e.ID)
			if got.Status != tt.status || !strings.Contains(got.Message, tt.message) {
				t.Errorf("experiment = %s %q, want %s %q", got.Status, got.Message, tt.status, tt.message)
			}
			if n := f.startCount(); n != tt.starts {
				t.Errorf("%d starts, want %d", n, tt.starts)
			}
			if c := got.Cells[0]; c.Status != tt.cell0 || !strings.Contains(c.Message, tt.cell0Msg) {
				t.Errorf("cell 0 = %s %q, want %s %q", c.Status, c.Message, tt.cell0, tt.cell0Msg)
			}
			if o := f.origins[0]; o.Trigger != "schedule" || o.ScheduleID != "s-1" {
				t.Errorf("origin = %+v, want the schedule's", o)
			}
		})
	}
}

// TestAwaitAnalyses: a done experiment's captures are analyzed; those
// still waiting past AnalysisWait are named in its message.
func TestAwaitAnalyses(t *testing.T) {
	t.Run("analyzed meanwhile", func(t *testing.T) {
		db := storetest.Open(t)
		f := &fakeFleet{db: db, status: store.StatusCommitted}
		r := New(Config{Store: db, Fleet: f, Poll: time.Millisecond})
		spec := smallSpec()
		spec.Vary = spec.Vary[:1]
		spec.Vary[0].Values = []int64{128}
		e, err := r.Start(context.Background(), spec, Origin{})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for f.startCount() == 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			_ = db.Update(context.Background(), func(w *store.Writer) error {
				for _, id := range []string{"f-0.agent-0", "f-0.agent-1"} {
					if err := w.SetStatus(id, store.StatusAnalyzed, ""); err != nil {
						return err
					}
				}
				return nil
			})
		}()
		got := runUntil(t, r, e.ID)
		if got.Status != store.ExperimentDone || got.Message != "1 of 1 cells captured" {
			t.Errorf("experiment = %s %q", got.Status, got.Message)
		}
	})
	t.Run("not analyzed in time", func(t *testing.T) {
		db := storetest.Open(t)
		f := &fakeFleet{db: db, status: store.StatusCommitted}
		r := New(Config{Store: db, Fleet: f, Poll: time.Millisecond, AnalysisWait: 20 * time.Millisecond})
		e, err := r.Start(context.Background(), smallSpec(), Origin{})
		if err != nil {
			t.Fatal(err)
		}
		got := runUntil(t, r, e.ID)
		if got.Status != store.ExperimentDone || got.Message != "4 of 4 cells captured; 8 capture(s) not analyzed after 20ms" {
			t.Errorf("experiment = %s %q", got.Status, got.Message)
		}
	})
}

// TestResume: an experiment the collector stopped in the middle goes on at
// its first unfinished cell; a cell whose fleet capture is still followed
// is settled from it, not captured again.
func TestResume(t *testing.T) {
	db := storetest.Open(t)
	f := &fakeFleet{db: db, status: store.StatusAnalyzed}
	r := New(Config{Store: db, Fleet: f, Poll: time.Millisecond})
	ctx := context.Background()
	e, err := r.Start(ctx, smallSpec(), Origin{})
	if err != nil {
		t.Fatal(err)
	}
	// As if cell 0 was captured and cell 1's fleet capture ran when the
	// collector stopped; cell 2's capture was lost with it.
	if _, err := f.StartFor(ctx, &collectorv1.StartCaptureRequest{}, fleet.Origin{}); err != nil {
		t.Fatal(err)
	}
	e.Cells[0].Status, e.Cells[0].CaptureIDs = store.ExperimentDone, []string{"old-0"}
	e.Cells[1].Status, e.Cells[1].FleetID = store.ExperimentRunning, "f-0"
	e.Cells[2].Status, e.Cells[2].FleetID = store.ExperimentRunning, "f-gone"
	if err := db.Update(ctx, func(w *store.Writer) error { return w.PutExperiment(e) }); err != nil {
		t.Fatal(err)
	}
	got := runUntil(t, r, e.ID)
	if got.Status != store.ExperimentDone {
		t.Fatalf("experiment = %s %q", got.Status, got.Message)
	}
	if ids := strings.Join(got.Cells[1].CaptureIDs, ","); ids != "f-0.agent-0,f-0.agent-1" || got.Cells[0].CaptureIDs[0] != "old-0" {
		t.Errorf("cells 0 and 1 captures = %v, %v", got.Cells[0].CaptureIDs, got.Cells[1].CaptureIDs)
	}
	if n := f.startCount(); n != 3 { // the setup's, cell 2's and cell 3's
		t.Errorf("%d starts, want 3", n)
	}
}

func TestStartRefused(t *testing.T) {
	db := storetest.Open(t)
	r := New(Config{Store: db, Fleet: &fakeFleet{db: db}, MaxQueued: 1})
	ctx := context.Background()
	if _, err := r.Start(ctx, smallSpec(), Origin{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, smallSpec(), Origin{}); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start = %v, want ErrBusy", err)
	}
	if _, err := r.Start(ctx, &collectorv1.ExperimentSpec{}, Origin{}); !errors.Is(err, ErrBadSpec) {
		t.Errorf("Start(empty) = %v, want ErrBadSpec", err)
	}
	if _, err := r.Get(ctx, "x-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(x-none) = %v, want ErrNotFound", err)
	}
	list, err := r.List(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Errorf("List = %d, %v; want 1", len(list), err)
	}
	if !r.Running(ctx, list[0].ID) {
		t.Error("Running(queued) = false")
	}
}
