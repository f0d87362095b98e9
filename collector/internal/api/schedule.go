package api

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// ScheduleService serves capture schedules.
type ScheduleService struct {
	collectorv1.UnimplementedScheduleServiceServer
	sched *sched.Scheduler
	log   *slog.Logger
}

// NewScheduleService returns the ScheduleService. A nil logger discards.
func NewScheduleService(s *sched.Scheduler, log *slog.Logger) *ScheduleService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ScheduleService{sched: s, log: log.With("component", "api")}
}

// AddSchedule implements collectorv1.ScheduleServiceServer.
func (s *ScheduleService) AddSchedule(ctx context.Context, req *collectorv1.AddScheduleRequest) (*collectorv1.AddScheduleResponse, error) {
	resp, err := s.add(ctx, req)
	return resp, toStatus(s.log, "AddSchedule", err)
}

func (s *ScheduleService) add(ctx context.Context, req *collectorv1.AddScheduleRequest) (*collectorv1.AddScheduleResponse, error) {
	in, err := ScheduleRecord(req.GetSchedule())
	if err != nil {
		return nil, err
	}
	out, err := s.sched.Add(ctx, in)
	if err != nil {
		return nil, err
	}
	return &collectorv1.AddScheduleResponse{Schedule: ScheduleProto(&out)}, nil
}

// ListSchedules implements collectorv1.ScheduleServiceServer.
func (s *ScheduleService) ListSchedules(ctx context.Context, _ *collectorv1.ListSchedulesRequest) (*collectorv1.ListSchedulesResponse, error) {
	list, err := s.sched.List(ctx)
	if err != nil {
		return nil, toStatus(s.log, "ListSchedules", err)
	}
	resp := &collectorv1.ListSchedulesResponse{}
	for i := range list {
		resp.Schedules = append(resp.Schedules, ScheduleProto(&list[i]))
	}
	return resp, nil
}

// RemoveSchedule implements collectorv1.ScheduleServiceServer.
func (s *ScheduleService) RemoveSchedule(ctx context.Context, req *collectorv1.RemoveScheduleRequest) (*collectorv1.RemoveScheduleResponse, error) {
	out, err := s.sched.Remove(ctx, req.GetSchedule())
	if err != nil {
		return nil, toStatus(s.log, "RemoveSchedule", err)
	}
	return &collectorv1.RemoveScheduleResponse{Schedule: ScheduleProto(&out)}, nil
}

// PauseSchedule implements collectorv1.ScheduleServiceServer.
func (s *ScheduleService) PauseSchedule(ctx context.Context, req *collectorv1.PauseScheduleRequest) (*collectorv1.PauseScheduleResponse, error) {
	out, err := s.sched.Pause(ctx, req.GetSchedule())
	if err != nil {
		return nil, toStatus(s.log, "PauseSchedule", err)
	}
	return &collectorv1.PauseScheduleResponse{Schedule: ScheduleProto(&out)}, nil
}

// ResumeSchedule implements collectorv1.ScheduleServiceServer.
func (s *ScheduleService) ResumeSchedule(ctx context.Context, req *collectorv1.ResumeScheduleRequest) (*collectorv1.ResumeScheduleResponse, error) {
	out, err := s.sched.Resume(ctx, req.GetSchedule())
	if err != nil {
		return nil, toStatus(s.log, "ResumeSchedule", err)
	}
	return &collectorv1.ResumeScheduleResponse{Schedule: ScheduleProto(&out)}, nil
}

// ScheduleRecord converts a schedule from the API into a store record
// (output-only fields are dropped).
func ScheduleRecord(p *collectorv1.Schedule) (store.Schedule, error) {
	if p == nil {
		return store.Schedule{}, fmt.Errorf("%w: no schedule", errBadRequest)
	}
	if p.GetJitterMs() < 0 || p.GetJitterMs() > int64(365*24*time.Hour/time.Millisecond) {
		return store.Schedule{}, fmt.Errorf("%w: jitter_ms %d is out of range", errBadRequest, p.GetJitterMs())
	}
	opts, err := proto.Marshal(p.GetOptions())
	if err != nil {
		return store.Schedule{}, fmt.Errorf("encode options: %w", err)
	}
	var exp []byte
	if p.GetExperiment() != nil {
		if exp, err = proto.Marshal(p.GetExperiment()); err != nil {
			return store.Schedule{}, fmt.Errorf("encode experiment: %w", err)
		}
	}
	return store.Schedule{
		ID: p.GetScheduleId(), Name: p.GetName(), Spec: p.GetCron(), Selector: p.GetSelector(),
		Options: opts, Labels: maps.Clone(p.GetLabels()), JitterNS: p.GetJitterMs() * int64(time.Millisecond),
		MaxConcurrent: int(p.GetMaxConcurrent()), SkipIfBusy: p.GetSkipIfBusy(),
		SampleFraction: p.GetSampleFraction(), SampleCount: int(p.GetSampleCount()), Paused: p.GetPaused(),
		Experiment: exp,
	}, nil
}

// ScheduleProto converts a stored schedule.
func ScheduleProto(sc *store.Schedule) *collectorv1.Schedule {
	p := &collectorv1.Schedule{
		ScheduleId: sc.ID, Name: sc.Name, Cron: sc.Spec, Selector: sc.Selector,
		Options: scheduleOptions(sc.Options), Labels: maps.Clone(sc.Labels),
		JitterMs: sc.JitterNS / int64(time.Millisecond), MaxConcurrent: int32(sc.MaxConcurrent),
		SkipIfBusy: sc.SkipIfBusy, SampleFraction: sc.SampleFraction, SampleCount: int32(sc.SampleCount),
		Paused: sc.Paused, LastResult: sc.LastResult, LastFleetId: sc.LastFleetID,
		CreatedAt: timestamppb.New(time.Unix(0, sc.CreatedNS)), LastExperimentId: sc.LastExperimentID,
	}
	if len(sc.Experiment) > 0 {
		p.Experiment = &collectorv1.ExperimentSpec{}
		_ = proto.Unmarshal(sc.Experiment, p.Experiment) // validated when added
	}
	if sc.LastRunNS != 0 {
		p.LastRun = timestamppb.New(time.Unix(0, sc.LastRunNS))
	}
	if sc.NextRunNS != 0 {
		p.NextRun = timestamppb.New(time.Unix(0, sc.NextRunNS))
	}
	return p
}

// scheduleOptions decodes stored capture options (validated when added).
func scheduleOptions(b []byte) *agentv1.CaptureOptions {
	o := &agentv1.CaptureOptions{}
	_ = proto.Unmarshal(b, o)
	return o
}
