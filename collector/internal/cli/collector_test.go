package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/server"
	"github.com/fleetprof/fleetprof/collector/internal/server/servertest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

type testCollector struct {
	addr string
	stop func()
}

func startCollector(t *testing.T, data, plugins string) *testCollector {
	t.Helper()
	srv, stop := servertest.Start(t, server.Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: data, PluginsDir: plugins, Insecure: true, NoSync: true,
		HeartbeatInterval: agenttest.Heartbeat, ShutdownTimeout: 2 * time.Second,
	})
	return &testCollector{addr: srv.Addr(), stop: stop}
}

// fleetprof runs the command line and returns its stdout, stderr and code.
func fleetprof(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun runs the command line and fails the test unless it succeeds.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := fleetprof(t, args...)
	if code != 0 {
		t.Fatalf("fleetprof %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// workloadCapture makes a capture whose op mix depends on the workload
// endpoint, as score and generate differ.
func workloadCapture(cmd *agentv1.CaptureCommand) *capture.Capture {
	us := capture.Microsecond
	attn := int64(10)
	if strings.Contains(cmd.GetOptions().GetWorkload().GetEndpoint(), "generate") {
		attn = 30
	}
	return capturetest.Capture(time.Now().UnixNano(),
		capturetest.Op{TFOp: "jit(run)/layer0/attention/dot_general:dot_general", Start: 0, Dur: attn * us},
		capturetest.Op{TFOp: "jit(run)/layer0/mlp/dot_general:dot_general", Start: attn * us, Dur: 20 * us},
		capturetest.Op{TFOp: "jit(run)/LogitsProcessor/reduce_max:reduce_max", Start: (attn + 20) * us, Dur: 2 * us},
		capturetest.Op{Name: "while.6", Start: 5000 * us, Dur: 5 * us},
	)
}

func TestCollectorCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the analyzer plugins")
	}
	plugins := servertest.BuildPlugins(t)
	data := t.TempDir()
	c := startCollector(t, data, plugins)
	cc, err := agenttest.Dial(c.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, a := range []*agenttest.Agent{
		{ID: "tpu-a", Labels: map[string]string{"model": "qwen3", "zone": "us-east5-b"}, Make: workloadCapture},
		{ID: "tpu-b", Labels: map[string]string{"model": "qwen3", "zone": "us-east5-b"}, Make: workloadCapture},
		{ID: "tpu-c", Labels: map[string]string{"model": "llama", "zone": "us-east5-b"}, Make: workloadCapture},
	} {
		reg := a.Registered()
		wg.Go(func() { _ = a.Run(ctx, cc) })
		<-reg
	}
	col := "--collector=" + c.addr

	out := mustRun(t, "agents", col, "--selector", "model=qwen3,zone=us-east5-b")
	if !strings.Contains(out, "tpu-a") || !strings.Contains(out, "tpu-b") || strings.Contains(out, "tpu-c") {
		t.Errorf("agents --selector:\n%s", out)
	}
	var agents []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "agents", col, "--format", "json")), &agents); err != nil || len(agents) != 3 {
		t.Errorf("agents --format json: %v, %d agents", err, len(agents))
	}

	body := filepath.Join(t.TempDir(), "score.json")
	if err := os.WriteFile(body, []byte(`{"text": "hello", "label_token_ids": [1, 2]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(endpoint, experiment string) []string {
		out, errOut, code := fleetprof(t, "capture", col, "--selector", "model=qwen3", "--duration", "200ms",
			"--workload-body", body, "--workload-endpoint", endpoint, "--warmups", "1", "--requests", "2",
			"--start-delay", "200ms", "--label", "experiment="+experiment, "--wait", "--format", "json")
		if code != 0 {
			t.Fatalf("capture: exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"tpu-a", "tpu-b", "accepted", "done"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("capture --wait progress lacks %q:\n%s", want, errOut)
			}
		}
		var res struct {
			Done   bool `json:"done"`
			Agents []struct {
				AgentID   string `json:"agent_id"`
				CaptureID string `json:"capture_id"`
				Result    string `json:"result"`
			} `json:"agents"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range res.Agents {
			if a.Result != "done" {
				t.Errorf("%s: %s", a.AgentID, a.Result)
			}
			ids = append(ids, a.CaptureID)
		}
		if !res.Done || len(ids) != 2 {
			t.Fatalf("capture result %+v", res)
		}
		return ids
	}
	score := run("/v1/score", "score")
	generate := run("/generate", "generate")

	// Listed, then analysed (analysis runs on arrival, in the background).
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Captures []struct {
				ID     string `json:"capture_id"`
				Status string `json:"status"`
			} `json:"captures"`
		}
		if err := json.Unmarshal([]byte(mustRun(t, "captures", col, "--selector", "model=qwen3", "--format", "json")), &list); err != nil {
			t.Fatal(err)
		}
		analyzed := 0
		for _, c := range list.Captures {
			if c.Status == "analyzed" {
				analyzed++
			}
		}
		if len(list.Captures) == 4 && analyzed == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("captures not all analyzed: %+v", list.Captures)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out = mustRun(t, "captures", col, "--selector", "experiment=score", "--trigger", "fleet", "--since", "1h")
	if !strings.Contains(out, score[0]) || strings.Contains(out, generate[0]) {
		t.Errorf("captures --selector experiment=score:\n%s", out)
	}

	// Summary: by default the newest fleet capture (the /generate one).
	var sum []struct {
		CaptureID    string  `json:"capture_id"`
		AgentID      string  `json:"agent_id"`
		BusyUS       float64 `json:"busy_us"`
		TopComponent string  `json:"top_component"`
		TopPct       float64 `json:"top_component_pct"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "summary", col, "--format", "json")), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum) != 2 || !slices.Contains(generate, sum[0].CaptureID) || !slices.Contains(generate, sum[1].CaptureID) {
		t.Errorf("summary = %+v, want the two captures of the newest fleet capture %v", sum, generate)
	}
	for _, r := range sum {
		if r.BusyUS <= 0 || r.TopComponent == "" || r.TopPct <= 0 || r.TopPct > 100 {
			t.Errorf("summary row %+v: want device busy time and a top component", r)
		}
	}
	if out := mustRun(t, "summary", col, score[0]); !strings.Contains(out, "TOP COMPONENT") || !strings.Contains(out, "tpu-") {
		t.Errorf("summary ID:\n%s", out)
	}

	// Reports.
	md := mustRun(t, "report", col, score[0])
	for _, want := range []string{"# fleetprof report", "Top device ops", "mlp/dot_general", "Device time by component"} {
		if !strings.Contains(md, want) {
			t.Errorf("report (md) lacks %q", want)
		}
	}
	dir := t.TempDir()
	mustRun(t, "report", col, score[0], "--format", "json", "-o", dir)
	var rep struct {
		Sections map[string]struct {
			Error string `json:"error"`
		} `json:"sections"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	for _, name := range []string{"top_ops", "op_types", "categories", "components", "roofline", "idle", "host_events"} {
		s, ok := rep.Sections[name]
		if !ok || s.Error != "" {
			t.Errorf("report section %s: present %v, error %q", name, ok, s.Error)
		}
	}
	mustRun(t, "report", col, score[0], "--format", "md", "-o", dir)
	if _, err := os.Stat(filepath.Join(dir, "report.md")); err != nil {
		t.Error(err)
	}

	// Exports.
	fp := filepath.Join(dir, "a.fpcap")
	mustRun(t, "export", col, score[0], "-o", fp)
	f, err := os.Open(fp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fpcap.Read(f)
	f.Close()
	if err != nil || got.DeviceOpEvents() != 4 {
		t.Errorf("exported fpcap: %v, %d device ops", err, got.DeviceOpEvents())
	}
	tj := filepath.Join(dir, "a.trace.json.gz")
	mustRun(t, "export", col, score[0], "-o", tj)
	if fi, err := os.Stat(tj); err != nil || fi.Size() == 0 {
		t.Errorf("exported trace: %v", err)
	}

	// Diff score against generate: attention grew by 20 µs (10 → 30), so
	// matmul (the default rules' component of both dots) by 20 µs (30 → 50).
	var d struct {
		Components []struct {
			Key      string  `json:"key"`
			A        float64 `json:"a"`
			B        float64 `json:"b"`
			Delta    float64 `json:"delta"`
			DeltaPct float64 `json:"delta_pct"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "diff", col, score[0], generate[0], "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Components) == 0 || d.Components[0].Key != "matmul" || d.Components[0].Delta != 20 || math.Abs(d.Components[0].DeltaPct-200.0/3) > 1e-9 {
		t.Errorf("diff components = %+v, want matmul first, +20 µs, +66.7 %%", d.Components)
	}
	out = mustRun(t, "diff", col, score[0], generate[0])
	for _, want := range []string{"matmul", "+20.000", "+66.7%"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff table lacks %q:\n%s", want, out)
		}
	}

	// Errors read as sentences, with a non-zero exit.
	_, errOut, code := fleetprof(t, "report", col, "no-such-capture")
	if code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("report of an unknown capture: exit %d, %q", code, errOut)
	}
	_, errOut, code = fleetprof(t, "capture", col, "--selector", "model=none", "--wait")
	if code == 0 || !strings.Contains(errOut, "no connected agent matches") {
		t.Errorf("capture with no match: exit %d, %q", code, errOut)
	}

	// A restart keeps everything.
	cancel()
	wg.Wait()
	c.stop()
	c2 := startCollector(t, data, plugins)
	col2 := "--collector=" + c2.addr
	out = mustRun(t, "captures", col2)
	for _, id := range append(score, generate...) {
		if !strings.Contains(out, id) {
			t.Errorf("after restart, captures lacks %s:\n%s", id, out)
		}
	}
	mustRun(t, "report", col2, generate[1])
	mustRun(t, "diff", col2, score[1], generate[1])
	out = mustRun(t, "agents", col2, "--all")
	if !strings.Contains(out, "tpu-c") {
		t.Errorf("after restart, agents --all:\n%s", out)
	}
}
