package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	capwatch "github.com/fleetprof/fleetprof/collector/internal/watch"
)

// InsightConfig configures fleet insights (docs/fleet.md). The zero value
// works: rolling baselines of 5 captures, a 10 % threshold, no webhook.
type InsightConfig struct {
	// AlertWebhook, if set, receives a POST of each regression as JSON
	// (bounded queue, retried, with a deadline).
	AlertWebhook string
	// BaselineSize is how many earlier captures a rolling baseline holds.
	// Zero means 5.
	BaselineSize int
	// Threshold is the smallest relative change that is a regression.
	// Zero means 0.10.
	Threshold float64
}

// newWatch builds the watch of captures after their analysis.
func newWatch(db *store.DB, ic InsightConfig, log *slog.Logger, reg prometheus.Registerer) (*capwatch.Watch, error) {
	return capwatch.New(capwatch.Config{
		Store: db, BaselineSize: ic.BaselineSize, Threshold: ic.Threshold,
		Webhook: capwatch.WebhookConfig{URL: ic.AlertWebhook}, Logger: log, Registerer: reg,
	})
}

// analyzed runs after a capture's report is stored: its summary and
// baseline comparison first (the backup carries the summary), then the
// backup.
func (s *Server) analyzed(ctx context.Context, id string) {
	s.watch.Analyzed(ctx, id)
	s.life.analyzed(ctx, id)
}

// Watch is the server's watch of captures (for tests and tools in-process).
func (s *Server) Watch() *capwatch.Watch { return s.watch }
