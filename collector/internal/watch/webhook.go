package watch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetprof/fleetprof/plugins/retry"
)

// WebhookConfig configures the alert webhook. Every field but URL may be
// zero.
type WebhookConfig struct {
	// URL receives a POST of each regression as JSON (one row of `fleetprof
	// regressions --format json`). Empty turns the webhook off.
	URL string
	// Timeout bounds one attempt (connect, send, answer). Zero means 5 s.
	Timeout time.Duration
	// Attempts bounds the attempts at one regression. Zero means 5.
	Attempts int
	// Deadline bounds the time spent on one regression, waits between
	// attempts included. Zero means 1 min.
	Deadline time.Duration
	// MinBackoff is the wait after the first failed attempt, doubled after
	// each one (±20 %) up to 30 s. Zero means 500 ms.
	MinBackoff time.Duration
	// QueueSize bounds the regressions waiting; more are dropped (and
	// counted). Zero means 256.
	QueueSize int
	// Client sends the requests. Nil means a client with Timeout that
	// does not follow redirects.
	Client *http.Client
}

// maxBackoff caps the wait between attempts.
const maxBackoff = 30 * time.Second

// webhook delivers regressions one at a time, in order, from a bounded
// queue.
type webhook struct {
	cfg     WebhookConfig
	log     *slog.Logger
	metrics *metrics
	queue   chan []byte
}

// newWebhook checks the URL and fills in the defaults.
func newWebhook(cfg WebhookConfig, log *slog.Logger, m *metrics) (*webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrWebhookURL, cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout: cfg.Timeout,
			// A redirect would resend the regression elsewhere: say so instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &webhook{cfg: cfg, log: log.With("webhook", u.Redacted()), metrics: m, queue: make(chan []byte, cfg.QueueSize)}, nil
}

// enqueue queues a regression without waiting; a full queue drops it.
func (h *webhook) enqueue(body []byte) {
	select {
	case h.queue <- body:
	default:
		h.metrics.webhook.WithLabelValues("dropped").Inc()
		h.log.Warn("alert webhook queue full; regression dropped (it stays in the store and the metrics)")
	}
}

// run delivers queued regressions until ctx ends.
func (h *webhook) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case body := <-h.queue:
			h.deliver(ctx, body)
		}
	}
}

// deliver posts one regression, retrying failed attempts (network errors,
// 408, 429 and 5xx answers) with backoff, within the deadline.
func (h *webhook) deliver(ctx context.Context, body []byte) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Deadline)
	defer cancel()
	wait := retry.Backoff{Min: h.cfg.MinBackoff, Max: maxBackoff}
	for attempt := 1; ; attempt++ {
		again, err := h.post(ctx, body)
		if err == nil {
			h.metrics.webhook.WithLabelValues("delivered").Inc()
			return
		}
		if !again || attempt >= h.cfg.Attempts || ctx.Err() != nil {
			h.metrics.webhook.WithLabelValues("failed").Inc()
			h.log.Warn("alert webhook: regression not delivered", "attempts", attempt, "error", err)
			return
		}
		h.metrics.webhook.WithLabelValues("retried").Inc()
		d := wait.Next()
		h.log.Info("alert webhook attempt failed; retrying", "attempt", attempt, "in", d.Round(time.Millisecond), "error", err)
		if retry.Sleep(ctx, d) != nil {
			h.metrics.webhook.WithLabelValues("failed").Inc()
			h.log.Warn("alert webhook: regression not delivered before the deadline", "attempts", attempt, "error", err)
			return
		}
	}
}

// post makes one attempt and says whether a failure is worth retrying.
func (h *webhook) post(ctx context.Context, body []byte) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("post regression: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fleetprof-collector")
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("post regression: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("post regression: %s", resp.Status)
	default:
		return false, fmt.Errorf("post regression: %s (not retried)", resp.Status)
	}
}
