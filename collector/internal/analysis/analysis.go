// Package analysis runs the configured analyzers on each capture as it
// arrives and stores the report beside it. Work goes through a bounded
// queue to a fixed number of workers, so a slow or failing plugin delays
// only other analyses, never ingest; a capture whose analysis was dropped
// (queue full, collector restarted) is found again by a rescan of the
// captures still "committed".
package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/collector/internal/loop"
	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Errors.
var (
	// ErrNoReport means a capture has no stored report yet.
	ErrNoReport = errors.New("analysis: the capture has no report yet (analysis pending)")
	// ErrUnknownAnalyzer means an analyzer name matches no plugin.
	ErrUnknownAnalyzer = errors.New("analysis: no such analyzer")
	// ErrCapture means a stored capture does not parse.
	ErrCapture = errors.New("analysis: stored capture does not parse")
)

// Config configures an Analysis. Store is required.
type Config struct {
	// Store holds the captures and their reports.
	Store *store.DB
	// Plugins are the analyzer plugins (pluginhost.Discover). None means
	// reports hold the summary only.
	Plugins []pluginhost.Plugin
	// Host configures plugin runs (timeouts, per-capture concurrency).
	Host pluginhost.Config
	// Options are passed to every analyzer (e.g. "rules").
	Options map[string]string
	// Workers is how many captures are analyzed at once. Zero means 1.
	Workers int
	// QueueSize bounds the captures waiting. Zero means 256.
	QueueSize int
	// Rescan is how often captures left unanalyzed are looked for after the
	// queue overflowed. Zero means 1 minute.
	Rescan time.Duration
	// OnAnalyzed is called after a capture's report is stored (its status
	// is analyzed or analysis_failed), from the analyzing goroutine. Nil
	// means none.
	OnAnalyzed func(ctx context.Context, id string)
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Analysis analyzes captures.
type Analysis struct {
	cfg      Config
	log      *slog.Logger
	host     *pluginhost.Host
	queue    chan string
	overflow atomic.Bool

	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
	decodes  prometheus.Counter
}

// New returns an Analysis.
func New(cfg Config) *Analysis {
	factory := promauto.With(cfg.Registerer) // a nil Registerer registers nothing
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Host.Logger == nil {
		cfg.Host.Logger = log
	}
	a := &Analysis{
		cfg:   cfg,
		log:   log.With("component", "analysis"),
		host:  pluginhost.New(cfg.Plugins, cfg.Host),
		queue: make(chan string, cfg.QueueSize),
		duration: factory.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetprof_collector_analyzer_seconds",
			Help:    "Time to analyze one capture with all analyzers (analyzer=\"all\"), as plugins run side by side.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"analyzer"}),
		failures: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_analyzer_failures_total",
			Help: "Analyzer runs that failed, by analyzer.",
		}, []string{"analyzer"}),
		decodes: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_analysis_decodes_total",
			Help: "Stored captures decoded in full to be analyzed: those committed before ingest kept their tally (the others go to the plugins as stored).",
		}),
	}
	return a
}

// Analyzers returns the names of the configured plugins.
func (a *Analysis) Analyzers() []string {
	var out []string
	for _, p := range a.cfg.Plugins {
		out = append(out, p.Name)
	}
	return out
}

// Enqueue asks for a capture to be analyzed, without waiting. When the queue
// is full the capture is left for the next rescan.
func (a *Analysis) Enqueue(id string) {
	select {
	case a.queue <- id:
	default:
		a.overflow.Store(true)
		a.log.Warn("analysis queue full; the capture waits for the next rescan", "capture_id", id)
	}
}

// Run analyzes queued captures until ctx ends. It starts with a rescan of
// the captures left unanalyzed.
func (a *Analysis) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	loop.Drain(ctx, g, a.cfg.Workers, a.queue, func(ctx context.Context, id string) {
		if _, err := a.Analyze(ctx, id, nil, nil, true); err != nil && ctx.Err() == nil {
			a.log.Warn("analysis failed", "capture_id", id, "error", err)
		}
	})
	g.Go(func() error {
		a.rescan(ctx)
		return loop.Every(ctx, a.cfg.Rescan, func(ctx context.Context) {
			if a.overflow.Swap(false) {
				a.rescan(ctx)
			}
		})
	})
	return g.Wait()
}

// rescan queues the captures still waiting for analysis, oldest first.
func (a *Analysis) rescan(ctx context.Context) {
	var ids []string
	err := a.cfg.Store.View(ctx, func(r *store.Reader) error {
		f := store.Filter{Status: store.StatusCommitted, Limit: store.MaxLimit}
		for {
			list, next, err := r.List(f)
			if err != nil {
				return err
			}
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if next == "" || len(ids) >= a.cfg.QueueSize {
				return nil
			}
			f.PageToken = next
		}
	})
	if err != nil {
		a.log.Warn("rescan for unanalyzed captures", "error", err)
		return
	}
	slices.Reverse(ids)
	for _, id := range ids {
		select {
		case a.queue <- id:
		case <-ctx.Done():
			return
		default:
			a.overflow.Store(true)
			return
		}
	}
	if len(ids) > 0 {
		a.log.Info("queued unanalyzed captures", "captures", len(ids))
	}
}

// Load reads and parses a stored capture.
func Load(ctx context.Context, db *store.DB, id string) (*capture.Capture, *store.Capture, error) {
	var c *capture.Capture
	var rec *store.Capture
	err := db.View(ctx, func(r *store.Reader) error {
		var err error
		if rec, err = r.Capture(id); err != nil {
			return err
		}
		src, err := r.OpenBlob(id)
		if err != nil {
			return err
		}
		if c, err = fpcap.Read(src); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCapture, id, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c, rec, nil
}

// input is a stored capture as analysis takes it: its record and summary,
// and either its .fpcap with the tally ingest counted (the plugins are sent
// the stored records) or, for a capture stored before ingest kept a tally,
// the decoded capture.
type input struct {
	rec     *store.Capture
	summary capture.Summary
	fpcap   []byte
	tally   fpcap.Tally
	decoded *capture.Capture
}

// load reads what analyzing a stored capture takes; the .fpcap only with
// records (for plugins). It is copied out of the store, so no read
// transaction stays open while plugins run.
func (a *Analysis) load(ctx context.Context, id string, records bool) (*input, error) {
	in := &input{}
	err := a.cfg.Store.View(ctx, func(r *store.Reader) error {
		var err error
		if in.rec, err = r.Capture(id); err != nil {
			return err
		}
		if len(in.rec.Tally) == 0 || len(in.rec.Summary) == 0 ||
			json.Unmarshal(in.rec.Tally, &in.tally) != nil || json.Unmarshal(in.rec.Summary, &in.summary) != nil {
			return nil // decoded below
		}
		if !records {
			in.fpcap = []byte{}
			return nil
		}
		var buf bytes.Buffer
		buf.Grow(int(in.rec.SizeBytes))
		if _, err := r.WriteBlob(id, &buf); err != nil {
			return err
		}
		in.fpcap = buf.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.fpcap != nil {
		return in, nil
	}
	a.decodes.Inc()
	c, rec, err := Load(ctx, a.cfg.Store, id)
	if err != nil {
		return nil, err
	}
	return &input{rec: rec, summary: capture.Summarize(c), decoded: c}, nil
}

// Analyze runs analyzers (all configured ones when names is empty) on a
// stored capture with opts on top of the configured options, and returns the
// report. With save, the report becomes the capture's and its status is set.
func (a *Analysis) Analyze(ctx context.Context, id string, names []string, opts map[string]string, save bool) (*report.Report, error) {
	host := a.host
	if len(names) > 0 {
		var chosen []pluginhost.Plugin
		for _, n := range names {
			i := slices.IndexFunc(a.cfg.Plugins, func(p pluginhost.Plugin) bool { return p.Name == n })
			if i < 0 {
				return nil, fmt.Errorf("%w: %q (have %s)", ErrUnknownAnalyzer, n, strings.Join(a.Analyzers(), ", "))
			}
			chosen = append(chosen, a.cfg.Plugins[i])
		}
		host = pluginhost.New(chosen, a.cfg.Host)
	}
	in, err := a.load(ctx, id, len(host.Plugins()) > 0)
	if err != nil {
		return nil, err
	}
	all := map[string]string{}
	for k, v := range a.cfg.Options {
		all[k] = v
	}
	for k, v := range opts {
		all[k] = v
	}
	start := time.Now()
	var sections []*sdk.Section
	switch {
	case len(host.Plugins()) == 0:
	case in.decoded != nil:
		sections = host.Run(ctx, in.decoded, all)
	default:
		sections = host.RunFpcap(ctx, in.fpcap, in.tally, all)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	a.duration.WithLabelValues("all").Observe(time.Since(start).Seconds())
	var failed []string
	for _, s := range sections {
		if s.Error != "" {
			failed = append(failed, s.Name)
			a.failures.WithLabelValues(s.Name).Inc()
		}
	}
	r := &report.Report{Title: title(in.rec), Summary: in.summary, Sections: sections}
	if !save {
		return r, nil
	}
	blob, err := json.Marshal(stored{Summary: r.Summary, Sections: sections, AnalyzedNS: time.Now().UnixNano()})
	if err != nil {
		return nil, fmt.Errorf("encode report of %s: %w", id, err)
	}
	status, detail := store.StatusAnalyzed, ""
	if len(failed) > 0 {
		status, detail = store.StatusAnalysisFailed, "failed analyzers: "+strings.Join(failed, ", ")
	}
	err = a.cfg.Store.Group(ctx, func(w *store.Writer) error {
		if err := w.PutReport(id, blob); err != nil {
			return err
		}
		return w.SetStatus(id, status, detail)
	})
	if err != nil {
		return nil, fmt.Errorf("store report of %s: %w", id, err)
	}
	a.log.Info("capture analyzed", "capture_id", id, "status", status, "sections", len(sections), "took", time.Since(start).Round(time.Millisecond))
	if a.cfg.OnAnalyzed != nil {
		a.cfg.OnAnalyzed(ctx, id)
	}
	return r, nil
}

// title is a report's title for a capture.
func title(rec *store.Capture) string {
	t := "fleetprof report: " + rec.ID
	if rec.Host != "" {
		t += " (" + rec.Host + ")"
	}
	return t
}

// stored is a report as the store keeps it.
type stored struct {
	Summary    capture.Summary `json:"summary"`
	Sections   []*sdk.Section  `json:"sections"`
	AnalyzedNS int64           `json:"analyzed_ns"`
}

// Stored returns a capture's stored report.
func Stored(ctx context.Context, db *store.DB, id string) (*report.Report, error) {
	var b []byte
	var rec *store.Capture
	err := db.View(ctx, func(r *store.Reader) error {
		var err error
		if rec, err = r.Capture(id); err != nil {
			return err
		}
		b, err = r.Report(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoReport, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: report of %s: %v", store.ErrCorrupt, id, err)
	}
	return &report.Report{Title: title(rec), Summary: s.Summary, Sections: s.Sections}, nil
}
