package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
)

// newWatch returns a Watch on db with its own registry.
func newWatch(t *testing.T, db *store.DB, cfg Config) (*Watch, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Store, cfg.Registerer = db, reg
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, reg
}

// changesOf lists the stored changes as "capture metric direction".
func changesOf(t *testing.T, w *Watch, q ChangeQuery) []string {
	t.Helper()
	cs, err := w.Changes(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s %.0f%%", c.CaptureID, c.Metric, c.Direction, c.ChangePct))
	}
	return out
}

func TestAnalyzedFindsRegressions(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, reg := newWatch(t, db, Config{})
	// Five baseline captures, a repeat, then a slower one, then another
	// agent and another body (their own baselines: nothing to compare).
	for i := range 5 {
		put(t, db, std(fmt.Sprintf("a%d", i), "a", int64(100+i), 1))
		w.Analyzed(ctx, fmt.Sprintf("a%d", i))
	}
	put(t, db, std("a5", "a", 105, 1))
	w.Analyzed(ctx, "a5")
	if got := changesOf(t, w, ChangeQuery{Improvements: true}); len(got) != 0 {
		t.Fatalf("changes after repeats = %v, want none", got)
	}
	put(t, db, std("a6", "a", 106, 1.4))
	w.Analyzed(ctx, "a6")
	b := std("b0", "b", 107, 1.4)
	put(t, db, b)
	w.Analyzed(ctx, "b0")
	other := std("a7", "a", 108, 1.4)
	other.body = "other body"
	put(t, db, other)
	w.Analyzed(ctx, "a7")

	want := []string{"a6 device_op_us regression 20%", "a6 component:attention regression 40%", "a6 op:attn regression 40%"}
	if diff := cmp.Diff(want, changesOf(t, w, ChangeQuery{})); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	cs, _ := w.Changes(ctx, ChangeQuery{})
	if diff := cmp.Diff([]string{"a5", "a4", "a3", "a2", "a1"}, cs[0].BaselineCaptureIDs); diff != "" {
		t.Errorf("baseline (-want +got):\n%s", diff)
	}
	if cs[0].Before != 200 || cs[0].After != 240 || cs[0].Per != insight.PerRequest || cs[0].Baseline != insight.BaselineRolling {
		t.Errorf("change = %+v", cs[0])
	}
	if got := testutil.ToFloat64(w.metrics.regressions.WithLabelValues("device_op_us")); got != 1 {
		t.Errorf("regressions_total{device_op_us} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.metrics.regressions.WithLabelValues("op")); got != 1 {
		t.Errorf("regressions_total{op} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.metrics.perRequest.WithLabelValues("a", "")); got != 240 {
		t.Errorf("device_op_us_per_request{a} = %v, want 240 (a7: 480 µs, 2 requests)", got)
	}
	if n, err := testutil.GatherAndCount(reg, "fleetprof_capture_device_op_us_per_request"); err != nil || n != 2 {
		t.Errorf("per-request gauges = %d (%v), want 2 (agents a and b)", n, err)
	}

	// Analysing a capture again recomputes its summary but neither counts
	// nor stores its changes twice.
	w.Analyzed(ctx, "a6")
	if got := testutil.ToFloat64(w.metrics.regressions.WithLabelValues("device_op_us")); got != 1 {
		t.Errorf("regressions_total after re-analysis = %v, want 1", got)
	}
	if got := changesOf(t, w, ChangeQuery{}); len(got) != 3 {
		t.Errorf("changes after re-analysis = %v, want 3", got)
	}
}

func TestBaselineSizeAndNoisyHistory(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, _ := newWatch(t, db, Config{BaselineSize: 3})
	// attention per request: 100, 130, 90, 120, 80; the last 3 (90, 120,
	// 80) have median 90 and MAD 10 (3 scaled MADs: 44.5).
	for i, s := range []float64{1, 1.3, 0.9, 1.2, 0.8} {
		put(t, db, std(fmt.Sprintf("n%d", i), "a", int64(100+i), s))
		w.Analyzed(ctx, fmt.Sprintf("n%d", i))
	}
	// The noisy history itself raised changes along the way; only the
	// last capture matters here.
	put(t, db, std("x", "a", 200, 1.25)) // attention 125: +39 %, within 44.5
	w.Analyzed(ctx, "x")
	for _, c := range changesOf(t, w, ChangeQuery{Improvements: true}) {
		if strings.HasPrefix(c, "x component:attention") {
			t.Errorf("x flagged on attention within the baseline's spread: %s", c)
		}
	}
	cs, _ := w.Changes(ctx, ChangeQuery{Improvements: true, Limit: 100})
	for _, c := range cs {
		if c.CaptureID == "x" && len(c.BaselineCaptureIDs) != 3 {
			t.Errorf("baseline of x = %v, want 3 captures", c.BaselineCaptureIDs)
		}
	}
}

func TestPinnedBaseline(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, _ := newWatch(t, db, Config{})
	put(t, db, std("slow", "a", 100, 1.4))
	w.Analyzed(ctx, "slow")
	for i := range 3 {
		put(t, db, std(fmt.Sprintf("a%d", i), "a", int64(101+i), 1))
		w.Analyzed(ctx, fmt.Sprintf("a%d", i))
	}
	p, err := w.PinBaseline(ctx, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if p.AgentID != "a" || p.CaptureID != "slow" || p.Replaced != "" || len(p.OptionsKey) != 16 {
		t.Errorf("PinBaseline = %+v", p)
	}
	// Against the pinned slow capture, a normal one is an improvement.
	put(t, db, std("a3", "a", 110, 1))
	w.Analyzed(ctx, "a3")
	cs, _ := w.Changes(ctx, ChangeQuery{Improvements: true})
	if len(cs) == 0 || cs[0].CaptureID != "a3" || cs[0].Baseline != insight.BaselinePinned ||
		cs[0].Direction != insight.Improvement || !cmp.Equal(cs[0].BaselineCaptureIDs, []string{"slow"}) {
		t.Fatalf("changes with a pinned baseline = %+v", cs)
	}
	if p, err := w.PinBaseline(ctx, "a0"); err != nil || p.Replaced != "slow" {
		t.Errorf("PinBaseline(a0) = %+v, %v; want it to replace slow", p, err)
	}
	if was, err := w.UnpinBaseline(ctx, "a3"); err != nil || was != "a0" {
		t.Errorf("UnpinBaseline = %q, %v; want a0", was, err)
	}
	if was, err := w.UnpinBaseline(ctx, "a3"); err != nil || was != "" {
		t.Errorf("UnpinBaseline again = %q, %v; want nothing", was, err)
	}
	// Errors: unknown capture, capture without summary, bad id.
	put(t, db, cap{id: "pending", agent: "a", at: 120, noReport: true})
	for id, want := range map[string]error{"nope": store.ErrNotFound, "pending": ErrNoSummary, "../x": store.ErrBadID} {
		if _, err := w.PinBaseline(ctx, id); !errors.Is(err, want) {
			t.Errorf("PinBaseline(%q) = %v, want %v", id, err, want)
		}
	}
}

func TestPinnedBaselineDeleted(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, _ := newWatch(t, db, Config{})
	put(t, db, std("p", "a", 100, 1.4))
	w.Analyzed(ctx, "p")
	put(t, db, std("a1", "a", 101, 1))
	w.Analyzed(ctx, "a1")
	if _, err := w.PinBaseline(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(wr *store.Writer) error { return wr.DeleteCapture("p") }); err != nil {
		t.Fatal(err)
	}
	// The pinned capture is gone: the rolling baseline (a1) is used.
	put(t, db, std("a2", "a", 102, 1))
	w.Analyzed(ctx, "a2")
	cs, err := w.Changes(ctx, ChangeQuery{Improvements: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.CaptureID == "a2" {
			t.Errorf("a2 changed %s against %v, want no change against the rolling baseline (a1)", c.Metric, c.BaselineCaptureIDs)
		}
	}
}

func TestBackfill(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	for i, s := range []float64{1, 1, 2} {
		put(t, db, std(fmt.Sprintf("a%d", i), "a", int64(100+i), s))
	}
	put(t, db, cap{id: "pending", agent: "a", at: 200, noReport: true})
	w, _ := newWatch(t, db, Config{BackfillBatch: 2})
	n, err := w.Backfill(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Backfill = %d, %v; want 3", n, err)
	}
	if n, err := w.Backfill(ctx); err != nil || n != 0 {
		t.Errorf("second Backfill = %d, %v; want 0", n, err)
	}
	// History is summarised, not alerted on.
	if got := changesOf(t, w, ChangeQuery{Improvements: true}); len(got) != 0 {
		t.Errorf("changes after backfill = %v, want none", got)
	}
	line, err := w.SummaryLine(ctx, "a2")
	if err != nil {
		t.Fatal(err)
	}
	var s insight.Summary
	if err := json.Unmarshal(line, &s); err != nil || s.DeviceOpUS != 600 || !strings.HasSuffix(string(line), "}\n") || strings.Count(string(line), "\n") != 1 {
		t.Errorf("SummaryLine(a2) = %q (%v)", line, err)
	}
	if _, err := w.SummaryLine(ctx, "pending"); !errors.Is(err, ErrNoSummary) {
		t.Errorf("SummaryLine(pending) err = %v, want no summary", err)
	}
}

func TestFleetQuery(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, _ := newWatch(t, db, Config{})
	for i, agent := range []string{"a", "b", "c"} {
		slow := 1.0
		if agent == "c" {
			slow = 1.4
		}
		c := std("f1-"+agent, agent, int64(100+i), slow)
		c.fleet = "f1"
		put(t, db, c)
		w.Analyzed(ctx, c.id)
	}
	lone := std("lone", "d", 200, 3)
	put(t, db, lone)
	w.Analyzed(ctx, "lone")
	r, err := w.Fleet(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range r.Outliers {
		got = append(got, o.AgentID+" "+o.Metric)
	}
	if diff := cmp.Diff([]string{"c device_op_us", "c component:attention", "c op:attn"}, got); diff != "" {
		t.Errorf("outliers (-want +got):\n%s", diff)
	}
	if len(r.Hosts) != 3 || r.Per != insight.PerRequest {
		t.Errorf("hosts %d, per %q; want 3, request", len(r.Hosts), r.Per)
	}
	if _, err := w.Fleet(ctx, "f2"); !errors.Is(err, ErrNoFleet) {
		t.Errorf("Fleet(f2) = %v, want ErrNoFleet", err)
	}
	if _, err := w.Fleet(ctx, "../x"); !errors.Is(err, store.ErrBadID) {
		t.Errorf("Fleet(../x) = %v, want ErrBadID", err)
	}
}

func TestTrendAndChangeQueries(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	w, _ := newWatch(t, db, Config{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) int64 { return base.Add(time.Duration(h) * time.Hour).UnixNano() }
	for i, s := range []float64{1, 1, 1.5, 0.5} {
		a := std(fmt.Sprintf("a%d", i), "a", at(i), s)
		a.labels = map[string]string{"zone": "z1"}
		put(t, db, a)
		w.Analyzed(ctx, a.id)
		b := std(fmt.Sprintf("b%d", i), "b", at(i)+1, 1)
		b.labels, b.schedule = map[string]string{"zone": "z2"}, "nightly"
		put(t, db, b)
		w.Analyzed(ctx, b.id)
	}
	sel := func(s string) selector.Selector {
		v, err := selector.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		q    TrendQuery
		want map[string][]float64 // agent → values
	}{
		{"all, default metric", TrendQuery{}, map[string][]float64{"a": {200, 200, 250, 150}, "b": {200, 200, 200, 200}}},
		{"selector", TrendQuery{Selector: sel("zone=z1"), Metric: "component:attention"}, map[string][]float64{"a": {100, 100, 150, 50}}},
		{"since and until", TrendQuery{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour), Metric: "op:attn"}, map[string][]float64{"a": {100, 150}, "b": {100, 100}}},
		{"schedule", TrendQuery{ScheduleID: "nightly", Metric: "idle_pct"}, map[string][]float64{"b": {99, 99, 99, 99}}},
		{"agent", TrendQuery{AgentID: "a", Since: base.Add(3 * time.Hour)}, map[string][]float64{"a": {150}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := w.Trend(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]float64{}
			for _, s := range tr.Series {
				for _, p := range s.Points {
					got[s.AgentID] = append(got[s.AgentID], p.Value)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Trend (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := w.Trend(ctx, TrendQuery{Metric: "span"}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("Trend(span) = %v, want ErrBadQuery", err)
	}

	// a2 regressed (against a0 and a1), a3 improved (against a0 to a2).
	for _, tt := range []struct {
		name string
		q    ChangeQuery
		want []string
	}{
		{"regressions", ChangeQuery{}, []string{"a2 device_op_us regression 25%", "a2 component:attention regression 50%", "a2 op:attn regression 50%"}},
		{"limit", ChangeQuery{Limit: 1}, []string{"a2 device_op_us regression 25%"}},
		{"improvements too", ChangeQuery{Improvements: true, Limit: 2}, []string{"a3 device_op_us improvement -25%", "a3 component:attention improvement -50%"}},
		{"since", ChangeQuery{Since: base.Add(3 * time.Hour)}, []string{}},
		{"selector", ChangeQuery{Selector: sel("zone=z2")}, []string{}},
		{"agent", ChangeQuery{AgentID: "b"}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, changesOf(t, w, tt.q)); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}
}

// receiver is a loopback webhook receiver that answers with codes in turn
// (200 after them) and keeps what it was sent.
type receiver struct {
	mu     sync.Mutex
	codes  []int
	bodies []string
	got    chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	code := http.StatusOK
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	if req.Header.Get("Content-Type") == "application/json" {
		r.bodies = append(r.bodies, string(b))
	}
	r.mu.Unlock()
	w.WriteHeader(code)
	r.got <- struct{}{}
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name      string
		codes     []int
		attempts  int
		posts     int
		delivered float64
		failed    float64
		retried   float64
	}{
		{"delivered at once", nil, 3, 1, 1, 0, 0},
		{"retried after 500 and 429", []int{500, 429}, 3, 3, 1, 0, 2},
		{"400 is not retried", []int{400}, 3, 1, 0, 1, 0},
		{"attempts exhausted", []int{503, 503, 503}, 3, 3, 0, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := &receiver{codes: tt.codes, got: make(chan struct{}, 10)}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			db := storetest.Open(t)
			w, _ := newWatch(t, db, Config{Webhook: WebhookConfig{URL: srv.URL + "/hook", Attempts: tt.attempts, MinBackoff: time.Millisecond, Timeout: 2 * time.Second}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			defer func() { cancel(); <-done }()

			put(t, db, std("a0", "a", 100, 1))
			w.Analyzed(ctx, "a0")
			put(t, db, std("a1", "a", 101, 1.4)) // three regressions: device, attention, op
			w.Analyzed(ctx, "a1")
			posts := tt.posts + 2 // the two other regressions are delivered at once
			for i := range posts {
				select {
				case <-rcv.got:
				case <-time.After(10 * time.Second):
					t.Fatalf("the receiver got %d posts, want %d", i, posts)
				}
			}
			waitCount(t, w, "delivered", tt.delivered+2)
			waitCount(t, w, "failed", tt.failed)
			if got := testutil.ToFloat64(w.metrics.webhook.WithLabelValues("retried")); got != tt.retried {
				t.Errorf("retried = %v, want %v", got, tt.retried)
			}
			rcv.mu.Lock()
			first := rcv.bodies[0]
			rcv.mu.Unlock()
			var c insight.Change
			if err := json.Unmarshal([]byte(first), &c); err != nil || c.CaptureID != "a1" || c.Metric != "device_op_us" || c.Direction != insight.Regression {
				t.Errorf("first post = %s (%v)", first, err)
			}
		})
	}
}

// waitCount waits until the webhook counter of result reaches want.
func waitCount(t *testing.T, w *Watch, result string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(w.metrics.webhook.WithLabelValues(result)) != want {
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s = %v, want %v", result, testutil.ToFloat64(w.metrics.webhook.WithLabelValues(result)), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookDeadlineAndQueue(t *testing.T) {
	// A receiver that never answers in time: each attempt times out, and
	// the deadline ends the regression before its attempts run out.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	m := newMetrics(nil)
	h, err := newWebhook(WebhookConfig{URL: srv.URL, Timeout: 50 * time.Millisecond, Attempts: 100, Deadline: 300 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, QueueSize: 1}, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	h.deliver(context.Background(), []byte(`{}`))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("deliver took %v, want about the 300 ms deadline", d)
	}
	if got := testutil.ToFloat64(m.webhook.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed = %v, want 1", got)
	}
	h.enqueue([]byte("1"))
	h.enqueue([]byte("2")) // the queue holds one
	if got := testutil.ToFloat64(m.webhook.WithLabelValues("dropped")); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
}

func TestWebhookURL(t *testing.T) {
	for _, u := range []string{"ftp://x/y", "http://", "/relative", "::bad"} {
		if _, err := New(Config{Store: storetest.Open(t), Webhook: WebhookConfig{URL: u}}); !errors.Is(err, ErrWebhookURL) {
			t.Errorf("New(webhook %q) = %v, want ErrWebhookURL", u, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a store succeeded")
	}
}
