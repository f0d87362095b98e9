package sched

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeExperiments starts experiments x-1, x-2, ...; Check refuses a spec
// without a selector.
type fakeExperiments struct {
	mu      sync.Mutex
	started []string // schedule ids
	running bool
	err     error
}

func (f *fakeExperiments) Check(spec *collectorv1.ExperimentSpec) error {
	if spec.GetSelector() == "" {
		return errors.New("no selector")
	}
	return nil
}

func (f *fakeExperiments) StartScheduled(_ context.Context, spec *collectorv1.ExperimentSpec, scheduleID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.started = append(f.started, scheduleID)
	return fmt.Sprintf("x-%d", len(f.started)), nil
}

func (f *fakeExperiments) Running(context.Context, string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func experimentSpec(t *testing.T, selector string) []byte {
	t.Helper()
	b, err := proto.Marshal(&collectorv1.ExperimentSpec{Selector: selector, WorkloadBody: []byte(`{"text":"a"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScheduledExperiment(t *testing.T) {
	h := newHarness(t, 2)
	fx := &fakeExperiments{}
	h.s.cfg.Experiments = fx
	sc := h.add(store.Schedule{Spec: "@every 10m", SkipIfBusy: true, Experiment: experimentSpec(t, "model=qwen3")})
	runs := h.advance(10 * time.Minute)
	if len(runs) != 1 || runs[0].Outcome != OutcomeStarted || runs[0].ExperimentID != "x-1" || runs[0].FleetID != "" {
		t.Fatalf("runs = %+v, want experiment x-1 started", runs)
	}
	if len(h.starter.started) != 0 {
		t.Errorf("%d fleet captures started, want none (the experiment takes its own)", len(h.starter.started))
	}
	st := h.stored(sc.ID)
	if st.LastExperimentID != "x-1" || st.LastResult != "started experiment x-1" {
		t.Errorf("stored schedule: last experiment %q, result %q", st.LastExperimentID, st.LastResult)
	}
	// Skip-if-busy: the previous experiment still runs.
	fx.mu.Lock()
	fx.running = true
	fx.mu.Unlock()
	runs = h.advance(10 * time.Minute)
	if len(runs) != 1 || runs[0].Outcome != OutcomeSkipped || !strings.Contains(runs[0].Detail, "x-1 is still running") {
		t.Errorf("runs = %+v, want a skip", runs)
	}
	fx.mu.Lock()
	fx.running, fx.err = false, errors.New("queue full")
	fx.mu.Unlock()
	runs = h.advance(10 * time.Minute)
	if len(runs) != 1 || runs[0].Outcome != OutcomeFailed || runs[0].Detail != "failed: queue full" {
		t.Errorf("runs = %+v, want a failure", runs)
	}
	if got := fmt.Sprint(fx.started); got != fmt.Sprintf("[%s]", sc.ID) {
		t.Errorf("experiments started for %v, want one for %s", got, sc.ID)
	}
}

func TestScheduledExperimentRefused(t *testing.T) {
	h := newHarness(t, 1)
	ctx := context.Background()
	// Without an experiment runner.
	if _, err := h.s.Add(ctx, store.Schedule{Name: "x", Spec: "@hourly", Experiment: experimentSpec(t, "model=qwen3")}); !errors.Is(err, ErrBadSchedule) || !strings.Contains(err.Error(), "runs no experiments") {
		t.Errorf("Add without experiments = %v, want ErrBadSchedule", err)
	}
	h.s.cfg.Experiments = &fakeExperiments{}
	tests := []struct {
		name string
		exp  []byte
		want string
	}{
		{"bad experiment", experimentSpec(t, ""), "experiment: no selector"},
		{"undecodable", []byte{0xff}, "does not decode"},
	}
	for _, tt := range tests {
		if _, err := h.s.Add(ctx, store.Schedule{Name: tt.name, Spec: "@hourly", Experiment: tt.exp}); !errors.Is(err, ErrBadSchedule) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Add = %v, want ErrBadSchedule with %q", tt.name, err, tt.want)
		}
	}
}
