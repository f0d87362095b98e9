package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/server"
	"github.com/fleetprof/fleetprof/collector/internal/server/servertest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// attentionOp is the op a slower host takes longer on.
const attentionOp = "jit(run)/layer0/attention/pallas_call"

// speedCapture makes a capture of two profiled requests whose attention op
// takes 100 µs × the agent's current slowdown.
func speedCapture(slow *atomic.Value) func(*agentv1.CaptureCommand) *capture.Capture {
	return func(cmd *agentv1.CaptureCommand) *capture.Capture {
		us := capture.Microsecond
		attn := int64(100 * slow.Load().(float64))
		c := capturetest.Capture(time.Now().UnixNano(),
			capturetest.Op{TFOp: attentionOp + ":pallas_call", Start: 0, Dur: attn * us},
			capturetest.Op{TFOp: "jit(run)/layer0/mlp/dot_general:dot_general", Start: attn * us, Dur: 100 * us},
			capturetest.Op{TFOp: "jit(run)/LogitsProcessor/reduce_max:reduce_max", Start: (attn + 100) * us, Dur: 20 * us},
		)
		c.Context = map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)"}
		return c
	}
}

func TestFleetTrendRegressionCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the analyzer plugins")
	}
	plugins := servertest.BuildPlugins(t)
	var hooked sync.Mutex
	var posts []insight.Change
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var c insight.Change
		if json.Unmarshal(b, &c) == nil {
			hooked.Lock()
			posts = append(posts, c)
			hooked.Unlock()
		}
	}))
	defer hook.Close()
	reg := prometheus.NewRegistry()
	srv, _ := servertest.Start(t, server.Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), PluginsDir: plugins, Insecure: true, NoSync: true,
		HeartbeatInterval: agenttest.Heartbeat, ShutdownTimeout: 2 * time.Second, Registry: reg,
		Insight: server.InsightConfig{AlertWebhook: hook.URL},
	})
	ctx := context.Background()
	cc, err := agenttest.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	actx, acancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { acancel(); wg.Wait() }()
	speeds := map[string]*atomic.Value{}
	for _, id := range []string{"tpu-a", "tpu-b", "tpu-c"} {
		v := &atomic.Value{}
		v.Store(1.0)
		if id == "tpu-c" {
			v.Store(1.4)
		}
		speeds[id] = v
		a := &agenttest.Agent{ID: id, Labels: map[string]string{"model": "qwen3"}, Make: speedCapture(v)}
		registered := a.Registered()
		wg.Go(func() { _ = a.Run(actx, cc) })
		<-registered
	}
	col := "--collector=" + srv.Addr()
	body := filepath.Join(t.TempDir(), "score.json")
	if err := os.WriteFile(body, []byte(`{"text": "hi"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// capture runs a fleet capture and waits until its captures have
	// summaries (the fleet report lists every host).
	capture := func() string {
		out := mustRun(t, "capture", col, "--selector", "model=qwen3", "--duration", "200ms", "--workload-body", body,
			"--requests", "2", "--start-delay", "100ms", "--wait", "--format", "json")
		var res struct {
			FleetID string `json:"fleet_id"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.FleetID == "" {
			t.Fatalf("capture: %v\n%s", err, out)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, _, code := fleetprof(t, "fleet", col, res.FleetID, "--format", "json")
			var r insight.FleetReport
			if code == 0 && json.Unmarshal([]byte(out), &r) == nil && len(r.Hosts) == 3 {
				return res.FleetID
			}
			if time.Now().After(deadline) {
				t.Fatalf("fleet %s never listed 3 hosts: %s", res.FleetID, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 1. Three hosts, tpu-c slower on attention: only it is an outlier,
	// with the attention op explaining it.
	first := capture()
	var rep insight.FleetReport
	if err := json.Unmarshal([]byte(mustRun(t, "fleet", col, first, "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Per != insight.PerRequest {
		t.Errorf("per = %q, want request", rep.Per)
	}
	metrics := map[string]bool{}
	for _, o := range rep.Outliers {
		if o.AgentID != "tpu-c" || o.Direction != insight.Slower {
			t.Errorf("outlier %s on %s (%s), want only tpu-c slower", o.AgentID, o.Metric, o.Direction)
		}
		metrics[o.Metric] = true
		if o.Metric == insight.MetricDeviceOp {
			if len(o.Ops) == 0 || o.Ops[0].Operation != attentionOp {
				t.Errorf("device op outlier explained by %+v, want %s first", o.Ops, attentionOp)
			}
			// 260 µs vs 220 µs over 2 requests.
			if o.Value != 130 || o.Median != 110 {
				t.Errorf("device op outlier %v vs median %v, want 130 vs 110", o.Value, o.Median)
			}
		}
	}
	hasComponent := false
	for m := range metrics {
		hasComponent = hasComponent || strings.HasPrefix(m, insight.ComponentPrefix)
	}
	if !metrics[insight.MetricDeviceOp] || !metrics[insight.OpPrefix+attentionOp] || !hasComponent {
		t.Errorf("outlier metrics = %v, want device_op_us, a component and op:%s", metrics, attentionOp)
	}
	table := mustRun(t, "fleet", col, first)
	if !strings.Contains(table, "tpu-c *") || strings.Contains(table, "tpu-a *") {
		t.Errorf("fleet table does not mark tpu-c alone:\n%s", table)
	}
	outDir := t.TempDir()
	mustRun(t, "fleet", col, first, "--format", "md", "-o", outDir)
	for _, f := range []string{"fleet.md", "images/fleet.svg"} {
		if _, err := os.Stat(filepath.Join(outDir, f)); err != nil {
			t.Errorf("fleet --format md: %v", err)
		}
	}
	if md := mustRun(t, "fleet", col, first, "--format", "md"); !strings.HasPrefix(md, "# Fleet capture "+first) {
		t.Errorf("fleet --format md printed %.80q", md)
	}
	if page := mustRun(t, "fleet", col, first, "--format", "html"); !strings.Contains(page, "<svg") {
		t.Error("fleet --format html has no chart")
	}

	// 2. The same again: no regression. 3. tpu-a slower: a regression of
	// tpu-a alone, in the list, the metrics and at the webhook.
	capture()
	if out := mustRun(t, "regressions", col, "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("regressions after a repeat = %s, want []", out)
	}
	speeds["tpu-a"].Store(1.5)
	capture()
	var rows []insight.Change
	if err := json.Unmarshal([]byte(mustRun(t, "regressions", col, "--format", "json", "--since", "1h")), &rows); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rows {
		if c.AgentID != "tpu-a" || c.Direction != insight.Regression || len(c.BaselineCaptureIDs) != 2 {
			t.Errorf("regression row %+v, want tpu-a against 2 captures", c)
		}
		if c.Metric == insight.MetricDeviceOp {
			found = true
			// 270 µs vs 220 µs over 2 requests.
			if c.Before != 110 || c.After != 135 || len(c.Ops) == 0 || c.Ops[0].Operation != attentionOp {
				t.Errorf("device op regression %+v, want 110 → 135 explained by the attention op", c)
			}
		}
	}
	if !found {
		t.Fatalf("no device_op_us regression in %+v", rows)
	}
	if out := mustRun(t, "regressions", col); !strings.Contains(out, "tpu-a") || !strings.Contains(out, "+22.7%") {
		t.Errorf("regressions table:\n%s", out)
	}
	if got := counterValue(t, reg, "fleetprof_regressions_total", "device_op_us"); got != 1 {
		t.Errorf("fleetprof_regressions_total{device_op_us} = %v, want 1", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		hooked.Lock()
		n := len(posts)
		hooked.Unlock()
		if n == len(rows) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %d posts, want %d", n, len(rows))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Trend: tpu-a's device op time per request went 110, 110, 135.
	var tr insight.Trend
	if err := json.Unmarshal([]byte(mustRun(t, "trend", col, "--agent", "tpu-a", "--format", "json")), &tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Series) != 1 || len(tr.Series[0].Points) != 3 || tr.Series[0].Points[2].Value != 135 || tr.Series[0].Points[0].Value != 110 {
		t.Errorf("trend of tpu-a = %+v", tr.Series)
	}
	if out := mustRun(t, "trend", col, "--selector", "model=qwen3", "--metric", "op:"+attentionOp); !strings.Contains(out, "Fleet median") {
		t.Errorf("trend table:\n%s", out)
	}

	// Pin the first capture of tpu-a: the next one (still slow) is compared
	// with it alone.
	pinned := rep.Hosts[0].CaptureID
	if out := mustRun(t, "baseline", "pin", col, pinned); !strings.Contains(out, "pinned "+pinned) {
		t.Errorf("baseline pin: %s", out)
	}
	if out := mustRun(t, "baseline", "unpin", col, pinned); !strings.Contains(out, "unpinned "+pinned) {
		t.Errorf("baseline unpin: %s", out)
	}

	// Failures: unknown fleet, bad metric, bad format, bad --since.
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fleet", col, "f-nope"}, filecmd.ExitError, "(notfound)"},
		{[]string{"trend", col, "--metric", "span"}, filecmd.ExitUsage, "--metric"},
		{[]string{"fleet", col, first, "--format", "pdf"}, filecmd.ExitUsage, "--format"},
		{[]string{"regressions", col, "--since", "yesterday"}, filecmd.ExitUsage, "--since"},
		{[]string{"baseline", "pin", col, "nope"}, filecmd.ExitError, "(notfound)"},
	} {
		out, errOut, code := fleetprof(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("fleetprof %v: exit %d, stderr %q; want exit %d naming %q (stdout %q)", tt.args, code, errOut, tt.code, tt.want, out)
		}
	}
}

// counterValue returns the value of a counter in reg with one label
// value, 0 when it is not there.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"1d12h", now.Add(-36 * time.Hour), false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"0d", now, false},
		{"2026-02-01T00:00:00Z", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), false},
		{"-1d", time.Time{}, true},
		{"d", time.Time{}, true},
		{"1dx", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
