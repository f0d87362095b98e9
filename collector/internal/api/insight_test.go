package api

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeInsights answers with fixed values and errors, and keeps the last
// queries.
type fakeInsights struct {
	err    error
	trendQ watch.TrendQuery
	chQ    watch.ChangeQuery
}

func (f *fakeInsights) Fleet(_ context.Context, id string) (*insight.FleetReport, error) {
	return &insight.FleetReport{FleetID: id, Hosts: []insight.HostRow{}, Outliers: []insight.Outlier{}}, f.err
}

func (f *fakeInsights) Trend(_ context.Context, q watch.TrendQuery) (*insight.Trend, error) {
	f.trendQ = q
	return &insight.Trend{Metric: q.Metric, Series: []insight.Series{}, Median: []insight.MedianPoint{}}, f.err
}

func (f *fakeInsights) Changes(_ context.Context, q watch.ChangeQuery) ([]insight.Change, error) {
	f.chQ = q
	return []insight.Change{{CaptureID: "c1", Metric: "device_op_us"}}, f.err
}

func (f *fakeInsights) PinBaseline(_ context.Context, id string) (watch.Pin, error) {
	return watch.Pin{CaptureID: id, AgentID: "a", OptionsKey: "k", Replaced: "old"}, f.err
}

func (f *fakeInsights) UnpinBaseline(context.Context, string) (string, error) { return "old", f.err }

func TestInsightService(t *testing.T) {
	ctx := context.Background()
	f := &fakeInsights{}
	s := NewInsightService(f, nil)
	since := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

	fr, err := s.GetFleetReport(ctx, &collectorv1.GetFleetReportRequest{FleetId: "f1"})
	var rep insight.FleetReport
	if err != nil || json.Unmarshal(fr.GetReportJson(), &rep) != nil || rep.FleetID != "f1" {
		t.Errorf("GetFleetReport = %s, %v", fr.GetReportJson(), err)
	}
	tr, err := s.GetTrend(ctx, &collectorv1.GetTrendRequest{Selector: "model=qwen3", Since: timestamppb.New(since), Metric: "idle_pct", AgentId: "a", ScheduleId: "s"})
	if err != nil || f.trendQ.Metric != "idle_pct" || !f.trendQ.Since.Equal(since) || f.trendQ.AgentID != "a" || f.trendQ.ScheduleID != "s" ||
		f.trendQ.Selector.String() != "model=qwen3" || len(tr.GetTrendJson()) == 0 {
		t.Errorf("GetTrend: %v, query %+v", err, f.trendQ)
	}
	lr, err := s.ListRegressions(ctx, &collectorv1.ListRegressionsRequest{Since: timestamppb.New(since), IncludeImprovements: true, Limit: 7})
	var rows []insight.Change
	if err != nil || json.Unmarshal(lr.GetRegressionsJson(), &rows) != nil || len(rows) != 1 || !f.chQ.Improvements || f.chQ.Limit != 7 {
		t.Errorf("ListRegressions = %s, %v, query %+v", lr.GetRegressionsJson(), err, f.chQ)
	}
	pin, err := s.PinBaseline(ctx, &collectorv1.PinBaselineRequest{CaptureId: "c1"})
	if err != nil || pin.GetCaptureId() != "c1" || pin.GetReplacedCaptureId() != "old" || pin.GetOptionsKey() != "k" {
		t.Errorf("PinBaseline = %v, %v", pin, err)
	}
	un, err := s.UnpinBaseline(ctx, &collectorv1.UnpinBaselineRequest{CaptureId: "c1"})
	if err != nil || un.GetUnpinnedCaptureId() != "old" {
		t.Errorf("UnpinBaseline = %v, %v", un, err)
	}

	// Bad requests and the watch's errors become their codes.
	for _, tt := range []struct {
		name string
		err  error
		call func() error
		code codes.Code
	}{
		{"bad selector", nil, func() error { _, err := s.GetTrend(ctx, &collectorv1.GetTrendRequest{Selector: "=="}); return err }, codes.InvalidArgument},
		{"negative limit", nil, func() error {
			_, err := s.ListRegressions(ctx, &collectorv1.ListRegressionsRequest{Limit: -1})
			return err
		}, codes.InvalidArgument},
		{"bad metric", fmt.Errorf("%w: metric", watch.ErrBadQuery), func() error { _, err := s.GetTrend(ctx, &collectorv1.GetTrendRequest{}); return err }, codes.InvalidArgument},
		{"no fleet", fmt.Errorf("%w: f9", watch.ErrNoFleet), func() error {
			_, err := s.GetFleetReport(ctx, &collectorv1.GetFleetReportRequest{FleetId: "f9"})
			return err
		}, codes.NotFound},
		{"no summary", fmt.Errorf("%w: c1", watch.ErrNoSummary), func() error {
			_, err := s.PinBaseline(ctx, &collectorv1.PinBaselineRequest{CaptureId: "c1"})
			return err
		}, codes.FailedPrecondition},
		{"unknown capture", fmt.Errorf("capture: %w", store.ErrNotFound), func() error {
			_, err := s.UnpinBaseline(ctx, &collectorv1.UnpinBaselineRequest{CaptureId: "c9"})
			return err
		}, codes.NotFound},
	} {
		f.err = tt.err
		if got := status.Code(tt.call()); got != tt.code {
			t.Errorf("%s: code %v, want %v", tt.name, got, tt.code)
		}
	}
}
