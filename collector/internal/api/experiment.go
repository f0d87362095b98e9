package api

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// ExperimentService serves experiments.
type ExperimentService struct {
	collectorv1.UnimplementedExperimentServiceServer
	runner *experiment.Runner
	db     *store.DB
	log    *slog.Logger
}

// NewExperimentService returns the ExperimentService: experiments run by
// runner, their captures' reports read from db. A nil logger discards.
func NewExperimentService(runner *experiment.Runner, db *store.DB, log *slog.Logger) *ExperimentService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ExperimentService{runner: runner, db: db, log: log.With("component", "api")}
}

// StartExperiment implements collectorv1.ExperimentServiceServer.
func (s *ExperimentService) StartExperiment(ctx context.Context, req *collectorv1.StartExperimentRequest) (*collectorv1.StartExperimentResponse, error) {
	e, err := s.runner.Start(ctx, req.GetSpec(), experiment.Origin{})
	if err != nil {
		return nil, toStatus(s.log, "StartExperiment", err)
	}
	return &collectorv1.StartExperimentResponse{Experiment: ExperimentProto(e, true)}, nil
}

// GetExperiment implements collectorv1.ExperimentServiceServer.
func (s *ExperimentService) GetExperiment(ctx context.Context, req *collectorv1.GetExperimentRequest) (*collectorv1.GetExperimentResponse, error) {
	e, err := s.runner.Get(ctx, req.GetExperimentId())
	if err != nil {
		return nil, toStatus(s.log, "GetExperiment", err)
	}
	return &collectorv1.GetExperimentResponse{Experiment: ExperimentProto(e, true)}, nil
}

// ListExperiments implements collectorv1.ExperimentServiceServer.
func (s *ExperimentService) ListExperiments(ctx context.Context, req *collectorv1.ListExperimentsRequest) (*collectorv1.ListExperimentsResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	list, err := s.runner.List(ctx, min(limit, 1000))
	if err != nil {
		return nil, toStatus(s.log, "ListExperiments", err)
	}
	resp := &collectorv1.ListExperimentsResponse{}
	for i := range list {
		resp.Experiments = append(resp.Experiments, ExperimentProto(&list[i], false))
	}
	return resp, nil
}

// GetExperimentReport implements collectorv1.ExperimentServiceServer.
func (s *ExperimentService) GetExperimentReport(ctx context.Context, req *collectorv1.GetExperimentReportRequest) (*collectorv1.GetExperimentReportResponse, error) {
	resp, err := s.report(ctx, req)
	return resp, toStatus(s.log, "GetExperimentReport", err)
}

func (s *ExperimentService) report(ctx context.Context, req *collectorv1.GetExperimentReportRequest) (*collectorv1.GetExperimentReportResponse, error) {
	e, err := s.runner.Get(ctx, req.GetExperimentId())
	if err != nil {
		return nil, err
	}
	r, err := experiment.Build(ctx, s.db, e)
	if err != nil {
		return nil, err
	}
	files, err := experiment.Render(r, req.GetFormat())
	if err != nil {
		return nil, err
	}
	resp := &collectorv1.GetExperimentReportResponse{}
	for _, f := range files {
		resp.Files = append(resp.Files, &collectorv1.File{Name: f.Name, Data: f.Data})
	}
	return resp, nil
}

// ExperimentProto converts a stored experiment; withWorkloads includes each
// cell's workload (its body can be large).
func ExperimentProto(e *store.Experiment, withWorkloads bool) *collectorv1.Experiment {
	spec := &collectorv1.ExperimentSpec{}
	_ = proto.Unmarshal(e.Spec, spec) // validated when started
	p := &collectorv1.Experiment{
		ExperimentId: e.ID, Spec: spec, Status: e.Status, Message: e.Message,
		CreatedAt: timestamppb.New(time.Unix(0, e.CreatedNS)), Trigger: e.Trigger, ScheduleId: e.ScheduleID,
	}
	if !withWorkloads {
		p.Spec.WorkloadBody = nil
	}
	if e.FinishedNS != 0 {
		p.FinishedAt = timestamppb.New(time.Unix(0, e.FinishedNS))
	}
	for _, c := range e.Cells {
		pc := &collectorv1.ExperimentCell{
			Params: maps.Clone(c.Params), Endpoint: c.Endpoint, FleetId: c.FleetID,
			CaptureIds: append([]string(nil), c.CaptureIDs...), Status: c.Status, Message: c.Message,
		}
		if withWorkloads && len(c.Workload) > 0 {
			pc.Workload = &agentv1.Workload{}
			_ = proto.Unmarshal(c.Workload, pc.Workload)
		}
		p.Cells = append(p.Cells, pc)
	}
	return p
}
