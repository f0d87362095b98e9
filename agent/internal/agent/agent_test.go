package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/backend"
	"github.com/fleetprof/fleetprof/agent/internal/hostinfo"
	"github.com/fleetprof/fleetprof/agent/internal/integrity"
	"github.com/fleetprof/fleetprof/agent/internal/sglang"
	"github.com/fleetprof/fleetprof/agent/internal/sglang/sglangtest"
	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/workload"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

type progressLog struct {
	mu sync.Mutex
	ps []*agentv1.CaptureProgress
}

func (p *progressLog) add(x *agentv1.CaptureProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ps = append(p.ps, x)
}

func (p *progressLog) states(id string) []agentv1.CaptureState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []agentv1.CaptureState
	for _, x := range p.ps {
		if x.GetCaptureId() == id {
			out = append(out, x.GetState())
		}
	}
	return out
}

type tail struct{}

func (tail) Tail(int) []string { return []string{"INFO server ready", "INFO prefill batch"} }
func (tail) Restarts() int64   { return 2 }

type fixture struct {
	srv   *sglangtest.Server
	agent *Agent
	spool *spool.Spool
	prog  *progressLog
	work  string
}

// tinyFixture is newFixture serving the tiny capture, with a spool.
func tinyFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, fixtures.ReadFile(t, fixtures.Path(t, "tiny", "tiny-host.xplane.pb")), true)
}

func newFixture(t *testing.T, xp []byte, withSpool bool) *fixture {
	t.Helper()
	srv := sglangtest.New(sglangtest.Options{XPlane: xp, ScoreDelay: 2 * time.Millisecond})
	t.Cleanup(srv.Close)
	c, err := sglang.New(srv.URL, sglang.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, prog: &progressLog{}, work: t.TempDir()}
	if withSpool {
		if f.spool, err = spool.Open(filepath.Join(f.work, "spool"), spool.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	f.agent, err = New(Options{
		ID: "agent-1", Version: "v0.1.0-test", WorkDir: f.work, Server: c,
		Backends: map[string]backend.Backend{"http": backend.NewHTTP(c, backend.HTTPOptions{Poll: 10 * time.Millisecond})},
		Spool:    f.spool, Labels: map[string]string{"model": "qwen3"}, Host: hostinfo.Info{Host: "tpu-vm-0", Zone: "us-east5-b"},
		Log: tail{}, Progress: f.prog.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func seedWorkload(t *testing.T) *workload.Spec {
	body, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "seed-run", "inputs", "score_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	return &workload.Spec{Endpoint: "/v1/score", Body: body, Warmups: 1, Requests: 2}
}

func TestDo(t *testing.T) {
	f := tinyFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := f.agent.Do(ctx, Spec{ID: "cap-1", Trigger: "manual", Duration: 50 * time.Millisecond, Workload: seedWorkload(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Capture
	want := map[string]string{
		"requests./v1/score":  "3 (1 warmup + 2 profiled)",
		"status./v1/score":    "200×2",
		"server.model_path":   "Qwen/Qwen3-0.6B",
		"server.version":      "0.0.2-sim",
		"server.tp_size":      "1",
		"model.model_path":    "Qwen/Qwen3-0.6B",
		"label.model":         "qwen3",
		"host":                "tpu-vm-0",
		"gce.zone":            "us-east5-b",
		"agent.version":       "v0.1.0-test",
		"capture.backend":     "http",
		"capture.trigger":     "manual",
		"capture.duration_ms": "50",
		"server.restarts":     "2",
		"server.log_tail":     "INFO server ready\nINFO prefill batch",
	}
	for k, v := range want {
		if c.Context[k] != v {
			t.Errorf("Context[%q] = %q, want %q", k, c.Context[k], v)
		}
	}
	for _, k := range []string{"latency./v1/score.p50_ms", "latency./v1/score.p99_ms", "capture.started"} {
		if c.Context[k] == "" {
			t.Errorf("Context[%q] missing", k)
		}
	}
	if len(out.Checks) != 0 {
		t.Errorf("Checks = %v, want none", out.Checks)
	}
	if c.EventsTotal != 1472 || c.EventsKept() != 233 {
		t.Errorf("events %d kept %d, want 1472 and 233 (tiny truth)", c.EventsTotal, c.EventsKept())
	}
	if got := f.srv.Count("/v1/score"); got != 3 {
		t.Errorf("/v1/score got %d requests, want 3", got)
	}
	// Warm-ups come before profiling starts.
	if got := f.prog.states("cap-1"); !slices.Equal(got, []agentv1.CaptureState{
		agentv1.CaptureState_CAPTURE_STATE_PROFILING, agentv1.CaptureState_CAPTURE_STATE_TRIMMING,
		agentv1.CaptureState_CAPTURE_STATE_UPLOADING}) {
		t.Errorf("progress = %v", got)
	}
	// The spool holds a readable .fpcap with the context.
	fh, meta, err := f.spool.Open("cap-1")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	back, err := fpcap.Read(fh)
	if err != nil {
		t.Fatal(err)
	}
	if back.Context["requests./v1/score"] != "3 (1 warmup + 2 profiled)" || back.EventsKept() != 233 {
		t.Errorf("spooled capture context %v, kept %d", back.Context, back.EventsKept())
	}
	if meta.RawDir != filepath.Join(f.work, "raw", "cap-1") {
		t.Errorf("meta.RawDir = %s", meta.RawDir)
	}
	// Raw output stays until the collector commits, then goes.
	if _, err := os.Stat(meta.RawDir); err != nil {
		t.Errorf("raw output gone before commit: %v", err)
	}
	f.agent.Committed(meta)
	if _, err := os.Stat(meta.RawDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("raw output kept after commit: %v", err)
	}
	if st := f.prog.states("cap-1"); st[len(st)-1] != agentv1.CaptureState_CAPTURE_STATE_DONE {
		t.Errorf("last state = %v, want DONE", st[len(st)-1])
	}
}

func TestCPUOnlyKept(t *testing.T) {
	f := newFixture(t, sglangtest.CPUOnlyXPlane(t, 20), true)
	lvl := int32(1)
	out, err := f.agent.Do(t.Context(), Spec{ID: "cpu", Duration: 20 * time.Millisecond, DeviceTracerLevel: &lvl, KeepRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Checks.Names(); !slices.Equal(got, []string{integrity.DeviceTracerIgnored, integrity.NoDevicePlane}) {
		t.Errorf("checks = %v", got)
	}
	if out.Capture.Context["check.device_tracer_ignored"] == "" {
		t.Error("context lacks check.device_tracer_ignored")
	}
	m, ok := f.spool.Get("cpu")
	if !ok || m.Checks[integrity.NoDevicePlane] == "" {
		t.Fatalf("CPU-only capture not spooled with its checks: %+v", m)
	}
	f.agent.Committed(m)
	if _, err := os.Stat(m.RawDir); err != nil {
		t.Errorf("raw output deleted despite keep_raw: %v", err)
	}
}

func TestBusy(t *testing.T) {
	f := tinyFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- f.agent.Run(ctx) }()

	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "long", Options: &agentv1.CaptureOptions{DurationMs: 800}})
	waitState(t, f.prog, "long", agentv1.CaptureState_CAPTURE_STATE_PROFILING)

	start := time.Now()
	if _, err := f.agent.Do(t.Context(), Spec{ID: "second"}); !errors.Is(err, ErrBusy) {
		t.Errorf("Do while busy = %v, want ErrBusy", err)
	}
	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "third"})
	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "long"}) // sent again: not busy, its state
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("busy answers took %v, want immediate", d)
	}
	if got := f.prog.states("third"); !slices.Equal(got, []agentv1.CaptureState{agentv1.CaptureState_CAPTURE_STATE_BUSY}) {
		t.Errorf("third's progress = %v, want [BUSY]", got)
	}
	if a := f.agent.Active(); len(a) != 1 || a[0].GetCaptureId() != "long" {
		t.Errorf("Active = %v", a)
	}
	waitState(t, f.prog, "long", agentv1.CaptureState_CAPTURE_STATE_UPLOADING)
	if slices.Contains(f.prog.states("long"), agentv1.CaptureState_CAPTURE_STATE_BUSY) {
		t.Errorf("a repeated command was answered busy: %v", f.prog.states("long"))
	}
	n := len(f.prog.states("long"))
	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "long"}) // sent again after it was spooled
	if got := f.prog.states("long"); len(got) != n+1 || got[n] != agentv1.CaptureState_CAPTURE_STATE_UPLOADING {
		t.Errorf("repeated command after spooling: progress %v, want one more UPLOADING", got)
	}
	// Free again afterwards.
	if _, err := f.agent.Do(t.Context(), Spec{ID: "fourth", Duration: 10 * time.Millisecond}); err != nil {
		t.Errorf("Do after the capture = %v", err)
	}
	cancel()
	<-runDone
}

func TestCancel(t *testing.T) {
	f := tinyFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go f.agent.Run(ctx)
	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "c", Options: &agentv1.CaptureOptions{DurationMs: 10_000}})
	waitState(t, f.prog, "c", agentv1.CaptureState_CAPTURE_STATE_PROFILING)
	for deadline := time.Now().Add(5 * time.Second); f.srv.Count("/start_profile") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("profiling never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.agent.Cancel("other")
	f.agent.Cancel("c")
	waitState(t, f.prog, "c", agentv1.CaptureState_CAPTURE_STATE_FAILED)
	// The profiler was stopped: never left running.
	if f.srv.Count("/stop_profile") != 1 {
		t.Errorf("/stop_profile called %d times, want 1", f.srv.Count("/stop_profile"))
	}
	if _, err := os.Stat(filepath.Join(f.work, "raw", "c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("raw output of a cancelled capture kept: %v", err)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t, nil, false)
	tests := []struct {
		name string
		spec Spec
		want error
	}{
		{"no backend", Spec{Backend: "grpc"}, ErrNoBackend},
		{"bad workload", Spec{Workload: &workload.Spec{Endpoint: "nope"}}, workload.ErrBadSpec},
		{"already profiling", Spec{}, backend.ErrAlreadyProfiling},
	}
	for _, tt := range tests {
		f.srv.SetProfiling(tt.name == "already profiling")
		if _, err := f.agent.Do(t.Context(), tt.spec); !errors.Is(err, tt.want) {
			t.Errorf("%s: Do = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := New(Options{WorkDir: t.TempDir()}); err == nil {
		t.Error("New with no backends = nil error")
	}
}

func TestSpecFromCommand(t *testing.T) {
	cmd := &agentv1.CaptureCommand{CaptureId: "x", Trigger: "fleet", FleetId: "f1", Options: &agentv1.CaptureOptions{
		Backend: "grpc", DurationMs: 2000, DeviceTracerLevel: 2, GapPs: 5, KeepRaw: true,
		Workload: &agentv1.Workload{Endpoint: "/v1/score", Body: []byte("{}"), Warmups: 1, Requests: 2},
	}}
	s := SpecFromCommand(cmd)
	if s.ID != "x" || s.Backend != "grpc" || s.Duration != 2*time.Second || *s.DeviceTracerLevel != 2 ||
		s.HostTracerLevel != nil || s.Gap != 5 || !s.KeepRaw || s.Workload.Requests != 2 || !bytes.Equal(s.Workload.Body, []byte("{}")) {
		t.Errorf("SpecFromCommand = %+v", s)
	}
	ctx := s.Context("grpc")
	if ctx["capture.fleet_id"] != "f1" || ctx["capture.device_tracer_level"] != "2" || ctx["workload.endpoint"] != "/v1/score" {
		t.Errorf("Context = %v", ctx)
	}
}

func waitState(t *testing.T, p *progressLog, id string, st agentv1.CaptureState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(p.states(id), st) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %v (got %v)", id, st, p.states(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
