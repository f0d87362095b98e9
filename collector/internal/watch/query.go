package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Query bounds.
const (
	// MaxTrendCaptures bounds the captures one trend reads; the oldest past
	// it are left out (Trend.Truncated).
	MaxTrendCaptures = 100_000
	// DefaultChanges is how many changes a list returns when no limit is
	// given.
	DefaultChanges = 1000
	// MaxChanges bounds a list of changes.
	MaxChanges = 10_000
)

// decode reads a stored summary (insight.Summary.AppendBinary).
func decode(id string, data []byte) (insight.Summary, error) {
	var s insight.Summary
	if err := s.UnmarshalBinary(data); err != nil {
		return s, fmt.Errorf("%w: summary of %s: %v", store.ErrCorrupt, id, err)
	}
	return s, nil
}

// Fleet compares the hosts of a fleet capture from their stored summaries.
func (w *Watch) Fleet(ctx context.Context, fleetID string) (*insight.FleetReport, error) {
	if !store.ValidID(fleetID) {
		return nil, fmt.Errorf("fleet capture %q: %w", fleetID, store.ErrBadID)
	}
	var sums []insight.Summary
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		var derr error
		err := r.FleetSummaries(fleetID, func(id string, data []byte) bool {
			s, err := decode(id, data)
			if err != nil {
				derr = err
				return false
			}
			sums = append(sums, s)
			return true
		})
		return errors.Join(err, derr)
	})
	if err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoFleet, fleetID)
	}
	return insight.BuildFleet(fleetID, sums, w.rule), nil
}

// TrendQuery selects the captures of a trend. The zero value follows the
// normalised device op time of every capture.
type TrendQuery struct {
	// Selector must match the capture's labels.
	Selector selector.Selector
	// AgentID and ScheduleID, if set, keep that agent's or schedule's
	// captures.
	AgentID, ScheduleID string
	// Since and Until bound the commit time; zero means no bound.
	Since, Until time.Time
	// Metric is the figure (insight.ValidMetric). Empty means
	// device_op_us_per_request.
	Metric string
}

// Trend follows a metric over the stored summaries the query selects.
func (w *Watch) Trend(ctx context.Context, q TrendQuery) (*insight.Trend, error) {
	if q.Metric == "" {
		q.Metric = insight.MetricDeviceOpPerRequest
	}
	if !insight.ValidMetric(q.Metric) {
		return nil, fmt.Errorf("%w: metric %q: want device_op_us_per_request, idle_pct, component:NAME or op:NAME", ErrBadQuery, q.Metric)
	}
	var since, until int64
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	var sums []insight.Summary
	truncated := false
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		var derr error
		err := r.WalkSummaries(since, until, func(id string, _ int64, data []byte) bool {
			s, err := decode(id, data)
			if err != nil {
				derr = err
				return false
			}
			if (q.AgentID != "" && s.AgentID != q.AgentID) || (q.ScheduleID != "" && s.ScheduleID != q.ScheduleID) ||
				(!q.Selector.Empty() && !q.Selector.Matches(s.LabelMap())) {
				return true
			}
			if len(sums) == MaxTrendCaptures {
				sums = sums[1:] // keep the newest
				truncated = true
			}
			sums = append(sums, s)
			return true
		})
		return errors.Join(err, derr)
	})
	if err != nil {
		return nil, err
	}
	t := insight.BuildTrend(q.Metric, sums)
	t.Truncated = truncated
	return t, nil
}

// ChangeQuery selects changes. The zero value lists the latest regressions.
type ChangeQuery struct {
	// Since keeps changes of captures committed at or after it; zero means
	// no bound.
	Since time.Time
	// Selector must match the capture's labels.
	Selector selector.Selector
	// AgentID, if set, keeps that agent's changes.
	AgentID string
	// Improvements lists improvements too.
	Improvements bool
	// Limit bounds the list. Zero means DefaultChanges; above MaxChanges
	// means MaxChanges.
	Limit int
}

// Changes lists the stored regressions (and improvements, if asked) the
// query selects, newest capture first.
func (w *Watch) Changes(ctx context.Context, q ChangeQuery) ([]insight.Change, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultChanges
	}
	limit = min(limit, MaxChanges)
	var since int64
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	out := []insight.Change{}
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		var derr error
		err := r.WalkChanges(since, func(id string, data []byte) bool {
			var c insight.Change
			if err := json.Unmarshal(data, &c); err != nil {
				derr = fmt.Errorf("%w: change of %s: %v", store.ErrCorrupt, id, err)
				return false
			}
			if (c.Direction == insight.Improvement && !q.Improvements) || (q.AgentID != "" && c.AgentID != q.AgentID) ||
				(!q.Selector.Empty() && !q.Selector.Matches(c.Labels)) {
				return true
			}
			out = append(out, c)
			return len(out) < limit
		})
		return errors.Join(err, derr)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Pin is a pinned baseline.
type Pin struct {
	// CaptureID is the pinned capture.
	CaptureID string `json:"capture_id"`
	// AgentID is its agent.
	AgentID string `json:"agent_id"`
	// OptionsKey is its options' key: the agent's captures with the same
	// key are compared with it.
	OptionsKey string `json:"options_key"`
	// Replaced is the capture pinned before, "" when none.
	Replaced string `json:"replaced,omitempty"`
}

// summaryOf returns a capture's stored summary.
func summaryOf(r *store.Reader, id string) (insight.Summary, error) {
	data, err := r.Summary(id)
	if errors.Is(err, store.ErrNotFound) && r.Committed(id) {
		return insight.Summary{}, fmt.Errorf("%w: %s", ErrNoSummary, id)
	}
	if err != nil {
		return insight.Summary{}, err
	}
	return decode(id, data)
}

// PinBaseline makes a capture the baseline of its agent's captures with the
// same options, replacing the rolling baseline (and any capture pinned
// before).
func (w *Watch) PinBaseline(ctx context.Context, captureID string) (Pin, error) {
	var p Pin
	err := w.cfg.Store.Update(ctx, func(wr *store.Writer) error {
		s, err := summaryOf(&wr.Reader, captureID)
		if err != nil {
			return err
		}
		p = Pin{CaptureID: captureID, AgentID: s.AgentID, OptionsKey: s.BaselineKey}
		key := pinKey(s.AgentID, s.BaselineKey)
		if old, err := wr.Baseline(key); err == nil {
			var op pin
			if json.Unmarshal(old, &op) == nil && op.CaptureID != captureID {
				p.Replaced = op.CaptureID
			}
		}
		b, err := json.Marshal(pin{CaptureID: captureID, PinnedNS: time.Now().UnixNano()})
		if err != nil {
			return err
		}
		return wr.PutBaseline(key, b)
	})
	if err != nil {
		return Pin{}, fmt.Errorf("pin baseline %s: %w", captureID, err)
	}
	w.log.Info("baseline pinned", "capture_id", captureID, "agent_id", p.AgentID, "options_key", p.OptionsKey, "replaced", p.Replaced)
	return p, nil
}

// UnpinBaseline removes the pinned baseline of a capture's agent and
// options, so they go back to the rolling baseline. It returns the capture
// that was pinned, "" when none was.
func (w *Watch) UnpinBaseline(ctx context.Context, captureID string) (string, error) {
	var was string
	err := w.cfg.Store.Update(ctx, func(wr *store.Writer) error {
		s, err := summaryOf(&wr.Reader, captureID)
		if err != nil {
			return err
		}
		key := pinKey(s.AgentID, s.BaselineKey)
		if old, err := wr.Baseline(key); err == nil {
			var op pin
			if json.Unmarshal(old, &op) == nil {
				was = op.CaptureID
			}
		}
		return wr.DeleteBaseline(key)
	})
	if err != nil {
		return "", fmt.Errorf("unpin baseline of %s: %w", captureID, err)
	}
	return was, nil
}

// SummaryLine returns a capture's summary as one line of NDJSON (the GCS
// backup's row), computing and storing it if it is missing.
func (w *Watch) SummaryLine(ctx context.Context, id string) ([]byte, error) {
	var data []byte
	err := w.cfg.Store.View(ctx, func(r *store.Reader) error {
		var err error
		data, err = r.Summary(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		data, err = w.fill(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	s, err := decode(id, data)
	if err != nil {
		return nil, err
	}
	line, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("encode summary row of %s: %w", id, err)
	}
	return append(line, '\n'), nil
}
