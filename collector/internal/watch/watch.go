// Package watch follows every capture after its analysis: it computes the
// capture's summary once (insight.Summarize) and keeps it in the store,
// compares it with the baseline of earlier captures of the same agent and
// options (the rolling median of the last few, or a pinned capture), keeps
// the regressions and improvements found, counts them in Prometheus, sets
// per-agent gauges of the headline figures, and POSTs each regression to an
// optional webhook. Fleet reports, trends and the regression list are
// answered from the stored summaries alone, never by reading captures
// again.
//
// A store migrated from before summaries existed gets them at start: Run
// first fills in the summary of every analyzed capture without one (no
// comparison, no alert: those captures are history).
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Errors.
var (
	// ErrNoSummary means a capture has no summary yet: its analysis is
	// pending.
	ErrNoSummary = errors.New("watch: the capture has no summary yet (analysis pending)")
	// ErrBadQuery means a query's metric, selector or bound is invalid.
	ErrBadQuery = errors.New("watch: bad query")
	// ErrNoFleet means no capture of a fleet capture has a summary.
	ErrNoFleet = errors.New("watch: no analyzed capture of that fleet capture (unknown id, or analysis pending)")
	// ErrWebhookURL means the alert webhook's URL is not an absolute
	// http or https URL.
	ErrWebhookURL = errors.New("watch: the alert webhook URL must be an absolute http:// or https:// URL")
)

// Config configures a Watch. Store is required; zero values take the
// documented defaults.
type Config struct {
	// Store holds the captures, reports and summaries.
	Store *store.DB
	// BaselineSize is how many earlier captures a rolling baseline holds.
	// Zero means insight.DefaultBaselineSize (5).
	BaselineSize int
	// Threshold is the smallest relative change that is a regression or an
	// improvement. Zero means 0.10 (10 %).
	Threshold float64
	// Webhook, if set, receives each regression as JSON.
	Webhook WebhookConfig
	// BackfillBatch bounds the summaries written per transaction by the
	// backfill. Zero means 64.
	BackfillBatch int
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Watch computes summaries and finds regressions as captures arrive.
type Watch struct {
	cfg     Config
	log     *slog.Logger
	rule    insight.Rule
	hook    *webhook // nil when no webhook is configured
	metrics *metrics
}

// New returns a Watch.
func New(cfg Config) (*Watch, error) {
	if cfg.Store == nil {
		return nil, errors.New("watch: New needs a store")
	}
	if cfg.BaselineSize <= 0 {
		cfg.BaselineSize = insight.DefaultBaselineSize
	}
	if cfg.BackfillBatch <= 0 {
		cfg.BackfillBatch = 64
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watch{cfg: cfg, log: log.With("component", "watch"), rule: insight.DefaultRule}
	if cfg.Threshold > 0 {
		w.rule.MinChange = cfg.Threshold
	}
	w.metrics = newMetrics(cfg.Registerer)
	if cfg.Webhook.URL != "" {
		h, err := newWebhook(cfg.Webhook, w.log, w.metrics)
		if err != nil {
			return nil, err
		}
		w.hook = h
	}
	return w, nil
}

// Run fills in missing summaries, then delivers webhook posts until ctx
// ends.
func (w *Watch) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if w.hook != nil {
		g.Go(func() error { return w.hook.run(ctx) })
	}
	g.Go(func() error {
		n, err := w.Backfill(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("backfill of capture summaries stopped", "error", err)
		} else if n > 0 {
			w.log.Info("capture summaries filled in", "captures", n)
		}
		return nil
	})
	return g.Wait()
}

// Analyzed computes the summary of a capture whose report was just stored
// and keeps it. The first time, it also compares the capture with its
// baseline, keeps what moved, counts it, sets the gauges and queues the
// regressions for the webhook. Errors are logged: a capture's analysis
// stands whether or not its summary could be made.
func (w *Watch) Analyzed(ctx context.Context, id string) {
	if err := w.analyzed(ctx, id); err != nil && ctx.Err() == nil {
		w.log.Warn("capture summary not made", "capture_id", id, "error", err)
	}
}

func (w *Watch) analyzed(ctx context.Context, id string) error {
	var first bool
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		first = !r.HasSummary(id)
		return nil
	})
	if err != nil {
		return err
	}
	sum, err := w.summarize(ctx, id)
	if err != nil {
		return err
	}
	var changes []insight.Change
	var kind string
	if first {
		base, k, err := w.baseline(ctx, sum)
		if err != nil {
			return fmt.Errorf("baseline of %s: %w", id, err)
		}
		kind = k
		changes = insight.Compare(*sum, base, kind, w.rule)
	}
	data, err := sum.AppendBinary(nil)
	if err != nil {
		return fmt.Errorf("encode summary of %s: %w", id, err)
	}
	rows := make([][]byte, 0, len(changes))
	for i := range changes {
		b, err := json.Marshal(&changes[i])
		if err != nil {
			return fmt.Errorf("encode change of %s: %w", id, err)
		}
		rows = append(rows, b)
	}
	err = w.cfg.Store.Group(ctx, func(wr *store.Writer) error {
		if err := wr.PutSummary(id, data); err != nil {
			return err
		}
		if first {
			return wr.PutChanges(id, rows)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store summary of %s: %w", id, err)
	}
	if !first {
		return nil // analysed again: the gauges and alerts were set the first time
	}
	w.metrics.observe(sum)
	for i, c := range changes {
		w.metrics.change(&c)
		if c.Direction == insight.Regression {
			w.log.Info("regression", "capture_id", id, "agent_id", c.AgentID, "metric", c.Metric,
				"before", c.Before, "after", c.After, "change_pct", c.ChangePct, "baseline", kind)
			if w.hook != nil {
				w.hook.enqueue(rows[i])
			}
		}
	}
	return nil
}

// summarize computes a stored capture's summary from its record and report.
func (w *Watch) summarize(ctx context.Context, id string) (*insight.Summary, error) {
	var rec *store.Capture
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		var err error
		rec, err = r.Capture(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep, err := analysis.Stored(ctx, w.cfg.Store, id)
	if errors.Is(err, analysis.ErrNoReport) {
		return nil, fmt.Errorf("%w: %s", ErrNoSummary, id)
	}
	if err != nil {
		return nil, err
	}
	s := insight.Summarize(insight.Input{
		CaptureID: rec.ID, AgentID: rec.AgentID, Host: rec.Host, Trigger: rec.Trigger, FleetID: rec.FleetID,
		ScheduleID: rec.ScheduleID, CommittedNS: rec.CreatedNS, Status: rec.Status, Labels: rec.Labels,
		Options: Options(rec), Context: rec.Context, Summary: rep.Summary, Sections: rep.Sections,
	})
	return &s, nil
}

// Options returns the capture options of a record that decide its
// baseline: from its stored options, else from its context (a capture the
// agent made on its own defaults).
func Options(rec *store.Capture) insight.Options {
	var o agentv1.CaptureOptions
	if len(rec.Options) > 0 {
		_ = proto.Unmarshal(rec.Options, &o)
	}
	out := insight.Options{DurationMS: o.GetDurationMs(), NumSteps: o.GetNumSteps()}
	if wl := o.GetWorkload(); wl != nil {
		out.Endpoint, out.BodySHA256 = wl.GetEndpoint(), insight.BodyHash(wl.GetBody())
		out.Requests, out.Warmups = wl.GetRequests(), wl.GetWarmups()
	}
	if len(rec.Options) == 0 {
		out.Endpoint = rec.Context["workload.endpoint"]
		if ms, err := strconv.ParseInt(rec.Context["capture.duration_ms"], 10, 64); err == nil {
			out.DurationMS = ms
		}
	}
	return out
}

// pin is a pinned baseline as the store keeps it.
type pin struct {
	CaptureID string `json:"capture_id"`
	PinnedNS  int64  `json:"pinned_ns"`
}

// pinKey is the store key of the pinned baseline of an agent's captures
// with one options key.
func pinKey(agentID, optionsKey string) string { return agentID + "\x00" + optionsKey }

// maxBaselineScan bounds how many earlier summaries of an agent are read
// to find a rolling baseline's captures.
const maxBaselineScan = 1000

// baseline returns the captures cur is compared with, newest first, and
// the baseline's kind: the pinned capture of its agent and options, else
// the last BaselineSize earlier captures with its options.
func (w *Watch) baseline(ctx context.Context, cur *insight.Summary) ([]insight.Summary, string, error) {
	var out []insight.Summary
	kind := insight.BaselineRolling
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		if b, err := r.Baseline(pinKey(cur.AgentID, cur.BaselineKey)); err == nil {
			var p pin
			if json.Unmarshal(b, &p) == nil && p.CaptureID != cur.CaptureID {
				if data, err := r.Summary(p.CaptureID); err == nil {
					var s insight.Summary
					if s.UnmarshalBinary(data) == nil {
						out, kind = []insight.Summary{s}, insight.BaselinePinned
						return nil
					}
				}
				w.log.Warn("pinned baseline has no summary (deleted?); using the rolling baseline", "agent_id", cur.AgentID, "pinned", p.CaptureID)
			}
		}
		scanned := 0
		var derr error
		err := r.AgentSummaries(cur.AgentID, cur.CommittedNS, func(id string, _ int64, data []byte) bool {
			scanned++
			s, err := decode(id, data)
			if err != nil {
				derr = err
				return false
			}
			if id != cur.CaptureID && s.BaselineKey == cur.BaselineKey {
				out = append(out, s)
			}
			return len(out) < w.cfg.BaselineSize && scanned < maxBaselineScan
		})
		if derr != nil {
			return derr
		}
		return err
	})
	return out, kind, err
}

// fill computes and stores a capture's summary without comparing it, unless
// it has one by then, and returns the summary stored (its binary encoding).
func (w *Watch) fill(ctx context.Context, id string) ([]byte, error) {
	s, err := w.summarize(ctx, id)
	if err != nil {
		return nil, err
	}
	data, err := s.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("encode summary of %s: %w", id, err)
	}
	err = w.cfg.Store.Group(ctx, func(wr *store.Writer) error {
		if old, err := wr.Summary(id); err == nil {
			data = old
			return nil
		}
		return wr.PutSummary(id, data)
	})
	if err != nil {
		return nil, fmt.Errorf("store summary of %s: %w", id, err)
	}
	return data, nil
}

// Backfill computes the summary of every analyzed capture that has none
// (captures analyzed before the store had summaries), oldest first,
// without comparing them. It returns how many it made.
func (w *Watch) Backfill(ctx context.Context) (int, error) {
	var ids []string
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		return r.Walk(func(c *store.Capture) bool {
			if c.Status != store.StatusCommitted && !r.HasSummary(c.ID) {
				ids = append(ids, c.ID)
			}
			return true
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for batch := range slices.Chunk(ids, w.cfg.BackfillBatch) {
		type made struct {
			id   string
			data []byte
		}
		var sums []made
		for _, id := range batch {
			s, err := w.summarize(ctx, id)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNoSummary) {
				continue // deleted meanwhile, or never reported
			}
			if err != nil {
				return n, err
			}
			data, err := s.AppendBinary(nil)
			if err != nil {
				return n, fmt.Errorf("encode summary of %s: %w", id, err)
			}
			sums = append(sums, made{id, data})
		}
		err := w.cfg.Store.Group(ctx, func(wr *store.Writer) error {
			for _, s := range sums {
				if wr.HasSummary(s.id) {
					continue // made on arrival meanwhile
				}
				if err := wr.PutSummary(s.id, s.data); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(sums)
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return n, nil
}
