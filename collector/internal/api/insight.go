package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Insights is what the InsightService needs of the watch.
type Insights interface {
	// Fleet compares the hosts of a fleet capture.
	Fleet(ctx context.Context, fleetID string) (*insight.FleetReport, error)
	// Trend follows a figure over the captures a query selects.
	Trend(ctx context.Context, q watch.TrendQuery) (*insight.Trend, error)
	// Changes lists stored regressions (and improvements).
	Changes(ctx context.Context, q watch.ChangeQuery) ([]insight.Change, error)
	// PinBaseline pins a capture as its agent's and options' baseline.
	PinBaseline(ctx context.Context, captureID string) (watch.Pin, error)
	// UnpinBaseline unpins the baseline of a capture's agent and options.
	UnpinBaseline(ctx context.Context, captureID string) (string, error)
}

// InsightService serves fleet reports, trends and regressions.
type InsightService struct {
	collectorv1.UnimplementedInsightServiceServer
	w   Insights
	log *slog.Logger
}

// NewInsightService returns the InsightService over w.
func NewInsightService(w Insights, log *slog.Logger) *InsightService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &InsightService{w: w, log: log.With("component", "api")}
}

// GetFleetReport implements collectorv1.InsightServiceServer.
func (s *InsightService) GetFleetReport(ctx context.Context, req *collectorv1.GetFleetReportRequest) (*collectorv1.GetFleetReportResponse, error) {
	resp, err := s.fleetReport(ctx, req)
	return resp, toStatus(s.log, "GetFleetReport", err)
}

func (s *InsightService) fleetReport(ctx context.Context, req *collectorv1.GetFleetReportRequest) (*collectorv1.GetFleetReportResponse, error) {
	r, err := s.w.Fleet(ctx, req.GetFleetId())
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode fleet report: %w", err)
	}
	return &collectorv1.GetFleetReportResponse{ReportJson: b}, nil
}

// GetTrend implements collectorv1.InsightServiceServer.
func (s *InsightService) GetTrend(ctx context.Context, req *collectorv1.GetTrendRequest) (*collectorv1.GetTrendResponse, error) {
	resp, err := s.trend(ctx, req)
	return resp, toStatus(s.log, "GetTrend", err)
}

func (s *InsightService) trend(ctx context.Context, req *collectorv1.GetTrendRequest) (*collectorv1.GetTrendResponse, error) {
	sel, err := selector.Parse(req.GetSelector())
	if err != nil {
		return nil, err
	}
	q := watch.TrendQuery{Selector: sel, AgentID: req.GetAgentId(), ScheduleID: req.GetScheduleId(), Metric: req.GetMetric()}
	if req.GetSince() != nil {
		q.Since = req.GetSince().AsTime()
	}
	if req.GetUntil() != nil {
		q.Until = req.GetUntil().AsTime()
	}
	t, err := s.w.Trend(ctx, q)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode trend: %w", err)
	}
	return &collectorv1.GetTrendResponse{TrendJson: b}, nil
}

// ListRegressions implements collectorv1.InsightServiceServer.
func (s *InsightService) ListRegressions(ctx context.Context, req *collectorv1.ListRegressionsRequest) (*collectorv1.ListRegressionsResponse, error) {
	resp, err := s.listRegressions(ctx, req)
	return resp, toStatus(s.log, "ListRegressions", err)
}

func (s *InsightService) listRegressions(ctx context.Context, req *collectorv1.ListRegressionsRequest) (*collectorv1.ListRegressionsResponse, error) {
	sel, err := selector.Parse(req.GetSelector())
	if err != nil {
		return nil, err
	}
	if req.GetLimit() < 0 {
		return nil, fmt.Errorf("%w: limit must not be negative", errBadRequest)
	}
	q := watch.ChangeQuery{Selector: sel, AgentID: req.GetAgentId(), Improvements: req.GetIncludeImprovements(), Limit: int(req.GetLimit())}
	if req.GetSince() != nil {
		q.Since = req.GetSince().AsTime()
	}
	cs, err := s.w.Changes(ctx, q)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("encode regressions: %w", err)
	}
	return &collectorv1.ListRegressionsResponse{RegressionsJson: b}, nil
}

// PinBaseline implements collectorv1.InsightServiceServer.
func (s *InsightService) PinBaseline(ctx context.Context, req *collectorv1.PinBaselineRequest) (*collectorv1.PinBaselineResponse, error) {
	p, err := s.w.PinBaseline(ctx, req.GetCaptureId())
	if err != nil {
		return nil, toStatus(s.log, "PinBaseline", err)
	}
	return &collectorv1.PinBaselineResponse{CaptureId: p.CaptureID, AgentId: p.AgentID, OptionsKey: p.OptionsKey, ReplacedCaptureId: p.Replaced}, nil
}

// UnpinBaseline implements collectorv1.InsightServiceServer.
func (s *InsightService) UnpinBaseline(ctx context.Context, req *collectorv1.UnpinBaselineRequest) (*collectorv1.UnpinBaselineResponse, error) {
	was, err := s.w.UnpinBaseline(ctx, req.GetCaptureId())
	if err != nil {
		return nil, toStatus(s.log, "UnpinBaseline", err)
	}
	return &collectorv1.UnpinBaselineResponse{UnpinnedCaptureId: was}, nil
}
