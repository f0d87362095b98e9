package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// collector is a running collector for a test.
type collector struct {
	srv    *Server
	cc     *grpc.ClientConn
	client collectorv1.CollectorServiceClient
	stop   func() error
}

// serve runs a server of cfg, exactly as configured; stop ends it and
// returns Run's error, and may be called more than once. It is
// servertest.Start for this package's own tests, which cannot import
// servertest (it imports this package), and which check Run's error
// themselves.
func serve(t testing.TB, cfg Config) (srv *Server, stop func() error) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	var runErr error
	return srv, func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
}

// runServer runs a server of cfg, exactly as configured, until the test
// ends; an error from Run fails the test.
func runServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, stop := serve(t, cfg)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("collector Run: %v", err)
		}
	})
	return srv
}

// startCollector runs a collector on loopback over dir until the test ends
// (or stop is called).
func startCollector(t *testing.T, dir string) *collector {
	t.Helper()
	return startCollectorWith(t, Config{HTTP: "127.0.0.1:0", DataDir: dir})
}

// startCollectorWith runs a collector with cfg (on loopback, over a fresh
// folder unless cfg.DataDir is set) until the test ends or stop is called.
func startCollectorWith(t *testing.T, cfg Config) *collector {
	t.Helper()
	cfg.Listen, cfg.Insecure, cfg.NoSync = "127.0.0.1:0", true, true
	if cfg.HTTP == "" {
		cfg.HTTP = "-"
	}
	cfg.HeartbeatInterval, cfg.ShutdownTimeout = 100*time.Millisecond, 2*time.Second
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	srv, stop := serve(t, cfg)
	cc, err := agenttest.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	c := &collector{srv: srv, cc: cc, client: collectorv1.NewCollectorServiceClient(cc)}
	c.stop = func() error {
		once.Do(func() { cc.Close() })
		return stop()
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("collector Run: %v", err)
		}
	})
	return c
}

// runAgent runs a fake agent until the test ends; it returns once the agent
// is registered.
func runAgent(t *testing.T, c *collector, a *agenttest.Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	reg := a.Registered()
	go func() {
		defer close(done)
		if err := a.Run(ctx, c.cc); err != nil && ctx.Err() == nil {
			t.Logf("agent %s: %v", a.ID, err)
		}
	}()
	select {
	case <-reg:
	case <-time.After(5 * time.Second):
		t.Fatalf("agent %s did not register", a.ID)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// watch follows a fleet capture to its end and returns the last state.
func watch(t *testing.T, c *collector, fleetID string) *collectorv1.WatchFleetCaptureResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.client.WatchFleetCapture(ctx, &collectorv1.WatchFleetCaptureRequest{FleetId: fleetID})
	if err != nil {
		t.Fatal(err)
	}
	var last *collectorv1.WatchFleetCaptureResponse
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		last = m
	}
	if last == nil || !last.GetDone() {
		t.Fatalf("watch ended without done: %v", last)
	}
	return last
}

func results(w *collectorv1.WatchFleetCaptureResponse) map[string]string {
	out := map[string]string{}
	for _, a := range w.GetAgents() {
		out[a.GetAgentId()] = strings.TrimPrefix(a.GetResult().String(), "AGENT_RESULT_")
	}
	return out
}

func TestFleetCapture(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	qwen := map[string]string{"model": "qwen3", "zone": "us-east5-b"}
	agents := []*agenttest.Agent{
		{ID: "tpu-1", Labels: qwen, Behavior: agenttest.Capture},
		{ID: "tpu-2", Labels: qwen, Behavior: agenttest.Capture},
		{ID: "tpu-3", Labels: qwen, Behavior: agenttest.Capture},
		{ID: "busy", Labels: qwen, Behavior: agenttest.Busy},
		{ID: "broken", Labels: qwen, Behavior: agenttest.Fail},
		{ID: "silent", Labels: qwen, Behavior: agenttest.Silent},
		{ID: "hang", Labels: qwen, Behavior: agenttest.Hang},
		{ID: "other", Labels: map[string]string{"model": "llama"}, Behavior: agenttest.Capture},
	}
	for _, a := range agents {
		runAgent(t, c, a)
	}
	list, err := c.client.ListAgents(ctx, &collectorv1.ListAgentsRequest{Selector: "model=qwen3,zone=us-east5-b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetAgents()) != 7 {
		t.Fatalf("ListAgents(model=qwen3) = %d agents, want 7", len(list.GetAgents()))
	}
	const delay = 400 * time.Millisecond
	before := time.Now()
	resp, err := c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{
		Selector: "model=qwen3", StartDelayMs: delay.Milliseconds(), DeadlineMs: 2000,
		Options: &agentv1.CaptureOptions{DurationMs: 100}, Labels: map[string]string{"experiment": "score"},
	})
	if err != nil {
		t.Fatal(err)
	}
	last := watch(t, c, resp.GetFleetId())
	want := map[string]string{
		"tpu-1": "DONE", "tpu-2": "DONE", "tpu-3": "DONE", "busy": "BUSY",
		"broken": "FAILED", "silent": "UNREACHABLE", "hang": "FAILED",
	}
	if got := results(last); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results = %v, want %v", got, want)
	}
	for _, a := range last.GetAgents() {
		switch a.GetAgentId() {
		case "broken":
			if !strings.Contains(a.GetMessage(), "device_tracer_level") {
				t.Errorf("failed agent's message = %q, want the agent's reason", a.GetMessage())
			}
		case "hang":
			if !strings.Contains(a.GetMessage(), "deadline") {
				t.Errorf("hung agent's message = %q, want the deadline", a.GetMessage())
			}
		}
	}

	// One trigger, all at once: the commands arrive together and the
	// captures start together, at start_at.
	var arrived, started []time.Time
	var startAt time.Time
	for _, a := range agents[:3] {
		cmds := a.Commands()
		if len(cmds) != 1 {
			t.Fatalf("%s got %d commands, want 1", a.ID, len(cmds))
		}
		arrived = append(arrived, cmds[0].At)
		started = append(started, cmds[0].Started)
		if at := cmds[0].Cmd.GetStartAt().AsTime(); !startAt.IsZero() && !at.Equal(startAt) {
			t.Errorf("%s starts at %v, another at %v: want one common start", a.ID, at, startAt)
		}
		startAt = cmds[0].Cmd.GetStartAt().AsTime()
		if cmds[0].Cmd.GetFleetId() != resp.GetFleetId() || cmds[0].Cmd.GetTrigger() != "fleet" {
			t.Errorf("%s command = %v", a.ID, cmds[0].Cmd)
		}
	}
	if got := startAt.Sub(before); got < delay || got > delay+time.Second {
		t.Errorf("start_at is %v after the request, want about %v", got, delay)
	}
	spread := func(ts []time.Time) time.Duration {
		return slices.MaxFunc(ts, time.Time.Compare).Sub(slices.MinFunc(ts, time.Time.Compare))
	}
	if s := spread(arrived); s > 100*time.Millisecond {
		t.Errorf("commands arrived %v apart, want them at once", s)
	}
	// The start times are identical; what is measured here is timer and
	// scheduling noise of one loaded test process (race detector included).
	if s := spread(started); s > 200*time.Millisecond {
		t.Errorf("captures started %v apart, want within milliseconds", s)
	}
	for _, s := range started {
		if s.Before(startAt) {
			t.Errorf("a capture started at %v, before start_at %v", s, startAt)
		}
	}
	if len(agents[7].Commands()) != 0 {
		t.Error("an agent outside the selector got a command")
	}

	caps, err := c.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{Trigger: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	if len(caps.GetCaptures()) != 3 {
		t.Fatalf("ListCaptures(trigger=fleet) = %d, want 3", len(caps.GetCaptures()))
	}
	for _, cp := range caps.GetCaptures() {
		if cp.GetFleetId() != resp.GetFleetId() || cp.GetLabels()["experiment"] != "score" || cp.GetLabels()["model"] != "qwen3" || cp.GetOptions().GetDurationMs() != 100 {
			t.Errorf("capture %s: fleet %q labels %v options %v", cp.GetCaptureId(), cp.GetFleetId(), cp.GetLabels(), cp.GetOptions())
		}
	}
	caps, err = c.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{Selector: "experiment=score", AgentId: "tpu-2"})
	if err != nil || len(caps.GetCaptures()) != 1 {
		t.Errorf("ListCaptures(experiment=score, agent tpu-2) = %v, %v; want 1", caps, err)
	}

	// No agent matches: a clear error.
	_, err = c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "model=none"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("StartCapture(no match): %v, want FailedPrecondition", err)
	}
	_, err = c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "a b"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("StartCapture(bad selector): %v, want InvalidArgument", err)
	}
}

func TestFleetUnreachableAgent(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	// An agent whose command queue is never read: the collector cannot
	// reach it, or it drops off after the command was queued.
	gone := &agenttest.Agent{ID: "gone", Labels: map[string]string{"pool": "x"}, Behavior: agenttest.Silent}
	stop := runAgent(t, c, gone)
	ok := &agenttest.Agent{ID: "ok", Labels: map[string]string{"pool": "x"}}
	runAgent(t, c, ok)
	resp, err := c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=x", StartDelayMs: 100, DeadlineMs: 800})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	last := watch(t, c, resp.GetFleetId())
	if got, want := fmt.Sprint(results(last)), "map[gone:UNREACHABLE ok:DONE]"; got != want {
		t.Errorf("results = %s, want %s", got, want)
	}
}

func TestFleetReconnectMidCapture(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	first := &agenttest.Agent{ID: "r1", Labels: map[string]string{"pool": "r"}, Behavior: agenttest.Hang}
	stop := runAgent(t, c, first)
	resp, err := c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "pool=r", StartDelayMs: 50, DeadlineMs: 10000})
	if err != nil {
		t.Fatal(err)
	}
	capID := resp.GetAgents()[0].GetCaptureId()
	waitFor(t, func() bool { return len(first.Commands()) == 1 })
	stop() // the agent's connection drops mid-capture

	// It comes back, still profiling.
	again := &agenttest.Agent{ID: "r1", Labels: map[string]string{"pool": "r"}, Behavior: agenttest.Hang,
		Active: []*agentv1.CaptureProgress{{CaptureId: capID, State: agentv1.CaptureState_CAPTURE_STATE_PROFILING}}}
	runAgent(t, c, again)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.client.WatchFleetCapture(wctx, &collectorv1.WatchFleetCaptureRequest{FleetId: resp.GetFleetId()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if a := m.GetAgents()[0]; a.GetState() != agentv1.CaptureState_CAPTURE_STATE_PROFILING || a.GetResult() != collectorv1.AgentResult_AGENT_RESULT_PENDING {
		t.Errorf("after reconnect: %v, want pending, profiling", a)
	}
	// Then it uploads: done.
	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "x:y", Dur: capture.Microsecond}))
	if _, err := agenttest.Upload(ctx, c.cc, agenttest.UploadSpec{CaptureID: capID, AgentID: "r1", Data: data, SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	for !m.GetDone() {
		if m, err = stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.GetAgents()[0].GetResult(); got != collectorv1.AgentResult_AGENT_RESULT_DONE {
		t.Errorf("result = %v, want DONE", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := startCollector(t, dir)
	a := &agenttest.Agent{ID: "keep", Labels: map[string]string{"model": "qwen3"}}
	stopAgent := runAgent(t, c, a)
	resp, err := c.client.StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "model=qwen3", StartDelayMs: 50})
	if err != nil {
		t.Fatal(err)
	}
	watch(t, c, resp.GetFleetId())
	capID := resp.GetAgents()[0].GetCaptureId()
	waitFor(t, func() bool {
		g, err := c.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: capID})
		return err == nil && g.GetCapture().GetStatus() == "analyzed"
	})
	before, err := c.client.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: capID, Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	stopAgent()
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	c2 := startCollector(t, dir)
	caps, err := c2.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(caps.GetCaptures()) != 1 || caps.GetCaptures()[0].GetCaptureId() != capID || caps.GetCaptures()[0].GetStatus() != "analyzed" {
		t.Fatalf("after restart ListCaptures = %v, want %s analyzed", caps, capID)
	}
	after, err := c2.client.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: capID, Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	if string(after.GetFiles()[0].GetData()) != string(before.GetFiles()[0].GetData()) {
		t.Error("report changed across the restart")
	}
	agents, err := c2.client.ListAgents(ctx, &collectorv1.ListAgentsRequest{IncludeDisconnected: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(agents.GetAgents()) != 1 || agents.GetAgents()[0].GetConnected() || agents.GetAgents()[0].GetHost() != "keep.test" {
		t.Errorf("after restart ListAgents = %v, want keep, disconnected", agents)
	}
	// The agent reconnects with the capture still in its spool: the
	// collector says it is committed.
	back := &agenttest.Agent{ID: "keep", Pending: []string{capID, "never-seen"}}
	runAgent(t, c2, back)
	if got := back.Committed(); fmt.Sprint(got) != fmt.Sprint([]string{capID}) {
		t.Errorf("Registered.committed = %v, want [%s]", got, capID)
	}
	if err := c2.srv.Store().Check(ctx); err != nil {
		t.Error(err)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	runAgent(t, c, &agenttest.Agent{ID: "m1"})
	h, err := healthpb.NewHealthClient(c.cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", h, err)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/metrics": "fleetprof_collector_agents_connected 1",
	} {
		resp, err := http.Get("http://" + c.srv.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("GET %s lacks %q:\n%.2000s", path, want, b)
		}
	}
	for _, m := range []string{"fleetprof_collector_captures{status=\"committed\"} 0", "fleetprof_collector_ingest_bytes_total 0"} {
		resp, _ := http.Get("http://" + c.srv.HTTPAddr() + "/metrics")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

func TestInsecureOnlyOnLoopback(t *testing.T) {
	tests := []struct {
		cfg  Config
		want error
	}{
		{Config{Listen: "0.0.0.0:0", Insecure: true}, ErrInsecure},
		{Config{Listen: "10.1.2.3:7070", Insecure: true}, ErrInsecure},
		{Config{Listen: "127.0.0.1:0"}, ErrNoTLS},
	}
	for _, tt := range tests {
		tt.cfg.DataDir = filepath.Join(t.TempDir(), "d")
		_, err := New(tt.cfg)
		if !errors.Is(err, tt.want) {
			t.Errorf("New(%+v) = %v, want %v", tt.cfg, err, tt.want)
		}
	}
}
