package fleet

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Restore rebuilds, after a collector restart, the fleet captures that were
// running: from the stored commands of captures not yet committed (started
// within Config.Retain) and the captures of the same fleets already
// committed. Their parts wait for the agents to reconnect (which says where
// each capture is, or gets the command again) until their deadlines, so
// every agent ends with a result. Call it before serving; it returns how
// many fleet captures it restored.
func (t *Tracker) Restore(ctx context.Context) (int, error) {
	now := time.Now()
	var cmds []store.Command
	err := t.cfg.Store.View(ctx, func(r *store.Reader) error {
		var err error
		cmds, err = r.Commands()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("restore fleet captures: %w", err)
	}
	fleets := map[string]*fleetCapture{}
	oldest := now
	for _, c := range cmds {
		created := time.Unix(0, c.CreatedNS)
		if c.FleetID == "" || now.Sub(created) > t.cfg.Retain {
			continue
		}
		opts := &agentv1.CaptureOptions{}
		if err := proto.Unmarshal(c.Options, opts); err != nil {
			t.log.Warn("restore: bad stored options", "capture_id", c.CaptureID, "error", err)
		}
		deadline := time.Unix(0, c.DeadlineNS)
		if c.DeadlineNS == 0 {
			deadline = created.Add(DefaultStartDelay + time.Duration(opts.GetDurationMs())*time.Millisecond + DefaultDeadlineSlack)
		}
		cmd := &agentv1.CaptureCommand{
			CaptureId: c.CaptureID, FleetId: c.FleetID, Options: opts, Trigger: c.Trigger, ScheduleId: c.ScheduleID,
			Deadline: timestamppb.New(deadline),
		}
		if c.StartNS != 0 {
			cmd.StartAt = timestamppb.New(time.Unix(0, c.StartNS))
		}
		f := fleets[c.FleetID]
		if f == nil {
			f = &fleetCapture{id: c.FleetID, changed: make(chan struct{})}
			fleets[c.FleetID] = f
		}
		f.parts = append(f.parts, &part{
			fleet: f, agentID: c.AgentID, cmd: cmd, deadline: deadline,
			result: collectorv1.AgentResult_AGENT_RESULT_PENDING, message: "collector restarted; waiting for the agent",
		})
		if created.Before(oldest) {
			oldest = created
		}
	}
	if len(fleets) == 0 {
		return 0, nil
	}
	// The parts already committed before the restart are done.
	err = t.cfg.Store.View(ctx, func(r *store.Reader) error {
		f := store.Filter{Since: oldest.Add(-time.Second), Limit: store.MaxLimit}
		for {
			page, next, err := r.List(f)
			if err != nil {
				return err
			}
			for _, c := range page {
				fc := fleets[c.FleetID]
				if fc == nil {
					continue
				}
				fc.parts = append(fc.parts, &part{
					fleet: fc, agentID: c.AgentID, cmd: &agentv1.CaptureCommand{CaptureId: c.ID, FleetId: c.FleetID},
					result: collectorv1.AgentResult_AGENT_RESULT_DONE, state: agentv1.CaptureState_CAPTURE_STATE_DONE,
					message: "committed", answered: true,
				})
			}
			if next == "" {
				return nil
			}
			f.PageToken = next
		}
	})
	if err != nil {
		return 0, fmt.Errorf("restore fleet captures: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, f := range fleets {
		if t.fleets[id] != nil {
			continue
		}
		t.fleets[id] = f
		for _, p := range f.parts {
			t.byCapture[p.cmd.GetCaptureId()] = p
		}
		t.log.Info("fleet capture restored after a restart", "fleet_id", id, "agents", len(f.parts))
	}
	return len(fleets), nil
}
