package server

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestScheduleCaptures: a schedule captures on its own on a fraction of the
// matching agents, and each capture names its schedule.
func TestScheduleCaptures(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	sc := collectorv1.NewScheduleServiceClient(c.cc)
	for i := range 4 {
		runAgent(t, c, &agenttest.Agent{ID: fmt.Sprintf("tpu-%d", i), Labels: map[string]string{"model": "qwen3"}})
	}
	runAgent(t, c, &agenttest.Agent{ID: "other", Labels: map[string]string{"model": "llama"}})

	add, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: &collectorv1.Schedule{
		Name: "every-second", Cron: "@every 1s", Selector: "model=qwen3", SampleFraction: 0.5, SkipIfBusy: true,
		Options: &agentv1.CaptureOptions{DurationMs: 50}, Labels: map[string]string{"purpose": "sched-test"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := add.GetSchedule().GetScheduleId()
	if add.GetSchedule().GetNextRun() == nil || add.GetSchedule().GetCreatedAt() == nil {
		t.Errorf("AddSchedule = %v, want created_at and next_run set", add.GetSchedule())
	}

	// The first run: ceil(0.5·4) = 2 of the 4 qwen3 agents.
	var caps []*collectorv1.Capture
	waitFor(t, func() bool {
		resp, err := c.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{Trigger: "schedule"})
		if err != nil {
			t.Fatal(err)
		}
		caps = resp.GetCaptures()
		return len(caps) >= 2
	})
	byFleet := map[string][]string{}
	for _, cp := range caps {
		if cp.GetScheduleId() != id || cp.GetTrigger() != "schedule" || cp.GetLabels()["model"] != "qwen3" || cp.GetLabels()["purpose"] != "sched-test" {
			t.Errorf("capture %s: trigger %q schedule %q labels %v, want schedule %s on a qwen3 agent", cp.GetCaptureId(), cp.GetTrigger(), cp.GetScheduleId(), cp.GetLabels(), id)
		}
		byFleet[cp.GetFleetId()] = append(byFleet[cp.GetFleetId()], cp.GetAgentId())
	}
	for f, agents := range byFleet {
		slices.Sort(agents)
		if len(slices.Compact(agents)) > 2 {
			t.Errorf("run %s captured on %v, want at most 2 agents", f, agents)
		}
	}

	// Pause, list, resume, remove.
	p, err := sc.PauseSchedule(ctx, &collectorv1.PauseScheduleRequest{Schedule: "every-second"})
	if err != nil || !p.GetSchedule().GetPaused() || p.GetSchedule().GetNextRun() != nil {
		t.Fatalf("PauseSchedule = %v, %v; want paused without a next run", p, err)
	}
	list, err := sc.ListSchedules(ctx, &collectorv1.ListSchedulesRequest{})
	if err != nil || len(list.GetSchedules()) != 1 {
		t.Fatalf("ListSchedules = %v, %v", list, err)
	}
	if got := list.GetSchedules()[0]; got.GetLastRun() == nil || got.GetLastFleetId() == "" || got.GetSampleFraction() != 0.5 || got.GetOptions().GetDurationMs() != 50 {
		t.Errorf("listed schedule = %v, want a last run, its fleet id, fraction 0.5 and its options", got)
	}
	if r, err := sc.ResumeSchedule(ctx, &collectorv1.ResumeScheduleRequest{Schedule: id}); err != nil || r.GetSchedule().GetPaused() || r.GetSchedule().GetNextRun() == nil {
		t.Errorf("ResumeSchedule = %v, %v", r, err)
	}
	if _, err := sc.RemoveSchedule(ctx, &collectorv1.RemoveScheduleRequest{Schedule: id}); err != nil {
		t.Fatal(err)
	}

	// Errors leave with their codes.
	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"remove unknown", func() error {
			_, err := sc.RemoveSchedule(ctx, &collectorv1.RemoveScheduleRequest{Schedule: id})
			return err
		}, codes.NotFound},
		{"pause unknown", func() error {
			_, err := sc.PauseSchedule(ctx, &collectorv1.PauseScheduleRequest{Schedule: "nope"})
			return err
		}, codes.NotFound},
		{"bad cron", func() error {
			_, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: &collectorv1.Schedule{Name: "x", Cron: "every day"}})
			return err
		}, codes.InvalidArgument},
		{"no schedule", func() error {
			_, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{})
			return err
		}, codes.InvalidArgument},
		{"fraction and count", func() error {
			_, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: &collectorv1.Schedule{Name: "x", Cron: "@daily", SampleFraction: 0.1, SampleCount: 2}})
			return err
		}, codes.InvalidArgument},
		{"taken name", func() error {
			s := &collectorv1.Schedule{Name: "dup", Cron: "@daily"}
			if _, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: s}); err != nil {
				return err
			}
			_, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: s})
			return err
		}, codes.AlreadyExists},
	}
	for _, tt := range tests {
		if got := status.Code(tt.call()); got != tt.code {
			t.Errorf("%s: code %v, want %v", tt.name, got, tt.code)
		}
	}
}
