// Package retention deletes old captures from the collector's store: by age
// and by total size, for every capture or per label set (rules with a
// selector). Each pass plans in one read transaction, then deletes oldest
// first in small batches, one short write transaction each, so ingest's
// commits slip in between and are never held up for long. Captures whose
// backup is pending or failed are kept until they are in the bucket (unless
// the policy says otherwise), so nothing is lost that exists only here.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Errors.
var (
	// ErrInvalid means a policy is invalid; the message names the field.
	ErrInvalid = errors.New("retention: invalid policy")
)

// Config configures a Retention. Store is required; no rules means
// nothing is ever deleted.
type Config struct {
	// Store holds the captures.
	Store *store.DB
	// Policy holds the rules, the interval and the batch size (Parse or
	// Load set its defaults; zero values here take them too).
	Policy Policy
	// Now returns the time. Nil means time.Now.
	Now func() time.Time
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Retention applies a retention policy.
type Retention struct {
	cfg Config
	log *slog.Logger

	deleted      *prometheus.CounterVec
	deletedBytes *prometheus.CounterVec
	kept         prometheus.Gauge
	batches      prometheus.Counter
	passes       *prometheus.CounterVec
}

// New returns a Retention after validating its policy.
func New(cfg Config) (*Retention, error) {
	p := &cfg.Policy
	p.Rules = append([]Rule(nil), p.Rules...)
	if p.Interval <= 0 {
		p.Interval = Duration(DefaultInterval)
	}
	if p.BatchSize <= 0 {
		p.BatchSize = DefaultBatchSize
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	factory := promauto.With(cfg.Registerer) // a nil Registerer registers nothing
	r := &Retention{
		cfg: cfg,
		log: log.With("component", "retention"),
		deleted: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_retention_deleted_total", Help: "Captures deleted by retention, by the rule that selected them.",
		}, []string{"rule"}),
		deletedBytes: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_retention_deleted_bytes_total", Help: "Capture bytes (.fpcap) deleted by retention, by rule.",
		}, []string{"rule"}),
		kept: factory.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_collector_retention_kept_pending_backup", Help: "Captures the last pass would have deleted but kept because their backup is pending or failed.",
		}),
		batches: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_retention_batches_total", Help: "Delete transactions run by retention.",
		}),
		passes: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_retention_passes_total", Help: "Retention passes by result: done or failed.",
		}, []string{"result"}),
	}
	return r, nil
}

// Run applies the policy now and then every interval until ctx ends. With
// no rules it only waits.
func (r *Retention) Run(ctx context.Context) error {
	if len(r.cfg.Policy.Rules) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(time.Duration(r.cfg.Policy.Interval))
	defer t.Stop()
	for {
		if _, err := r.Apply(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retention pass failed; retried at the next interval", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Result is what one pass did.
type Result struct {
	// Deleted and Bytes count the captures deleted and their .fpcap bytes.
	Deleted int
	Bytes   int64
	// Kept counts captures a rule selected but that were kept because
	// their backup is pending or failed.
	Kept int
	// Batches counts the delete transactions.
	Batches int
	// IDs are the deleted captures, oldest first.
	IDs []string
}

// entry is what planning keeps of a capture.
type entry struct {
	id      string
	created int64
	size    int64
	pending bool   // backup pending or failed
	rules   uint64 // bit i: rule i selects it
	rule    int    // the rule that deletes it, or -1
}

// Apply runs one pass: it plans which captures the rules delete, then
// deletes them oldest first in batches.
func (r *Retention) Apply(ctx context.Context) (Result, error) {
	res, err := r.apply(ctx)
	if err != nil {
		r.passes.WithLabelValues("failed").Inc()
		return res, err
	}
	r.passes.WithLabelValues("done").Inc()
	return res, nil
}

func (r *Retention) apply(ctx context.Context) (Result, error) {
	var res Result
	rules := r.cfg.Policy.Rules
	if len(rules) == 0 {
		return res, nil
	}
	protect := !r.cfg.Policy.DeletePendingBackups
	var entries []entry
	err := r.cfg.Store.View(ctx, func(rd *store.Reader) error {
		return rd.Walk(func(c *store.Capture) bool {
			e := entry{id: c.ID, created: c.CreatedNS, size: c.SizeBytes, pending: store.BackupUnsettled(c.BackupStatus), rule: -1}
			for i := range rules {
				if rules[i].sel.Matches(c.Labels) {
					e.rules |= 1 << i
				}
			}
			if e.rules != 0 {
				entries = append(entries, e)
			}
			return true
		})
	})
	if err != nil {
		return res, fmt.Errorf("retention: plan: %w", err)
	}

	// Plan, oldest first: each rule's age bound, then its size bound over
	// what is left.
	now := r.cfg.Now().UnixNano()
	kept := map[string]bool{}
	mark := func(e *entry, i int) bool {
		if e.rule >= 0 {
			return true
		}
		if protect && e.pending {
			kept[e.id] = true
			return false
		}
		e.rule = i
		return true
	}
	for i, rule := range rules {
		bit := uint64(1) << i
		if rule.MaxAge > 0 {
			cutoff := now - int64(rule.MaxAge)
			for j := range entries {
				if e := &entries[j]; e.rules&bit != 0 && e.created < cutoff {
					mark(e, i)
				}
			}
		}
		if rule.MaxBytes > 0 {
			var total int64
			for _, e := range entries {
				if e.rules&bit != 0 && e.rule < 0 {
					total += e.size
				}
			}
			for j := range entries {
				if total <= int64(rule.MaxBytes) {
					break
				}
				if e := &entries[j]; e.rules&bit != 0 && e.rule < 0 && mark(e, i) {
					total -= e.size
				}
			}
		}
	}
	var doomed []*entry
	for j := range entries {
		if entries[j].rule >= 0 {
			doomed = append(doomed, &entries[j])
		}
	}
	res.Kept = len(kept)
	r.kept.Set(float64(res.Kept))
	if res.Kept > 0 {
		r.log.Info("captures kept until their backup is done", "captures", res.Kept)
	}

	// Delete in batches, each a transaction of its own, re-checking each
	// capture's backup status inside it.
	byID := map[string]*entry{}
	for _, e := range doomed {
		byID[e.id] = e
	}
	size := r.cfg.Policy.BatchSize
	for len(doomed) > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n := min(size, len(doomed))
		batch := doomed[:n]
		doomed = doomed[n:]
		ids := make([]string, len(batch))
		for i, e := range batch {
			ids[i] = e.id
		}
		var gone []store.Capture
		err := r.cfg.Store.Update(ctx, func(w *store.Writer) error {
			var keep func(c *store.Capture) bool
			if protect {
				keep = func(c *store.Capture) bool { return store.BackupUnsettled(c.BackupStatus) }
			}
			var err error
			gone, err = w.DeleteCaptures(ids, keep)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("retention: delete: %w", err)
		}
		res.Batches++
		r.batches.Inc()
		deleted := make([]string, 0, len(gone))
		var bytes int64
		for _, c := range gone {
			rule := rules[byID[c.ID].rule].Name
			r.deleted.WithLabelValues(rule).Inc()
			r.deletedBytes.WithLabelValues(rule).Add(float64(c.SizeBytes))
			deleted = append(deleted, c.ID)
			bytes += c.SizeBytes
		}
		res.Deleted += len(gone)
		res.Bytes += bytes
		res.IDs = append(res.IDs, deleted...)
		if len(gone) > 0 {
			r.log.Info("retention deleted captures", "captures", len(gone), "bytes", bytes, "capture_ids", deleted)
		}
	}
	if res.Deleted > 0 {
		r.log.Info("retention pass done", "deleted", res.Deleted, "bytes", res.Bytes, "batches", res.Batches, "kept_pending_backup", res.Kept)
	}
	return res, nil
}
