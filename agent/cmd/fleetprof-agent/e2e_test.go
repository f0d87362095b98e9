package main

// End-to-end tests: the real fleetprof-agent binary against the simulated
// sglang-jax server binary, the fake collector and the fleetprof CLI, all
// on loopback and bounded in time.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// binDir holds the binaries TestMain built; empty when they could not be built.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "fleetprof-agent-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := buildBinaries(dir); err != nil {
			fmt.Fprintf(os.Stderr, "e2e binaries not built (e2e tests skip): %v\n", err)
		} else {
			binDir = dir
		}
		return m.Run()
	}()
	os.Exit(code)
}

func buildBinaries(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	root, err := fixtures.ModuleRoot(".")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := func(out string, pkgs ...string) error {
		cmd := exec.CommandContext(ctx, goBin, append([]string{"build", "-o", out + "/"}, pkgs...)...)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %v: %v\n%s", pkgs, err, b)
		}
		return nil
	}
	if err := build(dir, "./agent/cmd/fleetprof-agent", "./integration/cmd/fleetprof-simserver", "./collector/cmd/fleetprof", "./collector/cmd/fleetprof-cli",
		"./collector/cmd/fleetprof-collector"); err != nil {
		return err
	}
	// The report's analyzers, with the allowlist the plugin host wants.
	plugins := filepath.Join(dir, "plugins")
	if err := build(plugins, "./plugins/cmd/..."); err != nil {
		return err
	}
	ents, err := os.ReadDir(plugins)
	if err != nil {
		return err
	}
	var list strings.Builder
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(plugins, e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(&list, "%x  %s\n", sha256.Sum256(b), e.Name())
	}
	return os.WriteFile(filepath.Join(plugins, "plugins.sha256"), []byte(list.String()), 0o644)
}

func needBins(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("binaries not built")
	}
}

// seedBody returns the seed run's score request, or skips.
func seedBody(t *testing.T) string {
	t.Helper()
	return fixtures.Path(t, "seed-run", "inputs", "score_request.json")
}

// proc is a started binary; it is killed (its whole group) at the test's end.
type proc struct {
	cmd    *exec.Cmd
	stderr *logtest.Buffer
	done   chan error
	exited chan struct{} // closed when it has exited
}

func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{cmd: cmd, stderr: &logtest.Buffer{}, done: make(chan error, 1), exited: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	cmd.Env = append(os.Environ(), "FLEETPROF_METADATA_URL=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logtest.Tail(p.stderr.String(), 60))
		}
	})
	return p
}

func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v", p.cmd.Path, d)
		return nil
	}
}

// startSim starts the simulated server on a port the kernel picks and
// returns its URL, read back from its --addr-file, once /health answers.
func startSim(t testing.TB, args ...string) string {
	t.Helper()
	return "http://" + startSimAddrs(t, args...)["http"]
}

// startSimAddrs is startSim returning every address the server listens on
// by name: "http" and, with --profiler-port 0, "profiler".
func startSimAddrs(t testing.TB, args ...string) map[string]string {
	t.Helper()
	addrs, _ := startListening(t, "fleetprof-simserver", append([]string{"--port", "0"}, args...)...)
	waitHTTP(t, "http://"+addrs["http"]+"/health", 20*time.Second)
	return addrs
}

// startListening starts a daemon with --addr-file (its listen flags in
// args on port 0) and returns the addresses it listens on, once it does.
func startListening(t testing.TB, name string, args ...string) (map[string]string, *proc) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "addrs.json")
	p := start(t, name, append([]string{"--addr-file", file}, args...)...)
	return transporttest.WaitAddrs(t, file, p.exited), p
}

func waitHTTP(t testing.TB, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering 200 within %v: %v", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func readFpcap(t *testing.T, path string) *capture.Capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := fpcap.Read(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return c
}

// onlyRun returns the one run folder under dir/raw/*/plugins/profile/ (or
// dir/raw/*/<session>/ for the gRPC backend).
func onlyRun(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "raw", "*", "plugins", "profile", "*"))
	if len(m) == 0 {
		m, _ = filepath.Glob(filepath.Join(dir, "raw", "*", "*"))
	}
	if len(m) != 1 {
		t.Fatalf("want one raw run folder under %s, got %q", dir, m)
	}
	return m[0]
}

func TestStandaloneWrapHTTP(t *testing.T) {
	needBins(t)
	// The agent is told the wrapped server's URL before it starts it: the
	// port is picked here, not by the server.
	port := transporttest.FreePort(t)
	out, work := t.TempDir(), t.TempDir()
	a := start(t, "fleetprof-agent", "capture", "--attach", fmt.Sprintf("http://127.0.0.1:%d", port),
		"--duration", "500ms", "--device-tracer-level", "1", "--workload-body", seedBody(t), "--workload-endpoint", "/v1/score",
		"--warmups", "1", "--requests", "2", "--keep-raw", "--work-dir", work, "-o", out, "--label", "model=qwen3",
		"--wrap", "--", filepath.Join(binDir, "fleetprof-simserver"), "--port", fmt.Sprint(port), "--hostname", "e2e-host", "--seed", "7")
	if err := a.wait(t, 90*time.Second); err != nil {
		t.Fatalf("fleetprof-agent capture: %v\n%s", err, logtest.Tail(a.stderr.String(), 40))
	}
	c := readFpcap(t, filepath.Join(out, "capture.fpcap"))
	for k, want := range map[string]string{
		"requests./v1/score": "3 (1 warmup + 2 profiled)", "status./v1/score": "200×2", "label.model": "qwen3",
		"capture.backend": "http", "server.model_path": "Qwen/Qwen3-0.6B", "model.model_path": "Qwen/Qwen3-0.6B",
		"capture.device_tracer_level": "1", "server.restarts": "0",
	} {
		if c.Context[k] != want {
			t.Errorf("Context[%q] = %q, want %q", k, c.Context[k], want)
		}
	}
	// The capture matches what the simulated server wrote.
	raw, err := load.File(t.Context(), onlyRun(t, work), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, want := capture.Summarize(c), capture.Summarize(raw)
	if got.EventsTotal != want.EventsTotal || got.EventsKept != want.EventsKept || got.DeviceOpEvents != want.DeviceOpEvents ||
		len(got.Windows) != len(want.Windows) || got.NonIdleOpUS != want.NonIdleOpUS {
		t.Errorf("capture summary %+v\nwant (from the raw run folder) %+v", got, want)
	}
	if want.DeviceOpEvents == 0 {
		t.Error("the simulated server's trace has no device ops")
	}
	for _, f := range []string{"trace.json.gz", "report.md"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	report, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(report), "Top device ops") {
		t.Errorf("report.md lacks the top ops section:\n%s", logtest.Tail(string(report), 20))
	}
	// The wrapped server was stopped with the capture.
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
		t.Error("the wrapped server still answers after the capture")
	}
}

func TestStandaloneGRPC(t *testing.T) {
	needBins(t)
	sim := startSimAddrs(t, "--profiler-port", "0", "--hostname", "grpc-host")
	url := "http://" + sim["http"]
	out, work := t.TempDir(), t.TempDir()
	a := start(t, "fleetprof-agent", "capture", "--attach", url, "--profiler-addr", sim["profiler"],
		"--backend", "grpc", "--duration", "700ms", "--workload-body", seedBody(t), "--warmups", "1", "--requests", "2",
		"--keep-raw", "--work-dir", work, "-o", out)
	if err := a.wait(t, 90*time.Second); err != nil {
		t.Fatalf("fleetprof-agent capture: %v\n%s", err, logtest.Tail(a.stderr.String(), 40))
	}
	c := readFpcap(t, filepath.Join(out, "capture.fpcap"))
	if c.Context["capture.backend"] != "grpc" || c.Context["requests./v1/score"] != "3 (1 warmup + 2 profiled)" {
		t.Errorf("context = %v", c.Context)
	}
	if c.DeviceOpEvents() == 0 {
		t.Error("no device ops through the gRPC backend")
	}
	raw, err := load.File(t.Context(), onlyRun(t, work), load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if raw.EventsTotal != c.EventsTotal || raw.DeviceOpEvents() != c.DeviceOpEvents() {
		t.Errorf("capture has %d events (%d device ops), raw %d (%d)", c.EventsTotal, c.DeviceOpEvents(), raw.EventsTotal, raw.DeviceOpEvents())
	}
}

// TestIdleOverTheSession: idle % is of the time profiled. The same
// 1.5 s capture of an idle-ish server comes out with the same idle %
// whether or not the python tracer's events cover the whole session (they
// do when it is on; with it off, events only cover the bursts), through
// the XSpace's own session (Task Environment) and, when the XSpace is 0
// bytes and the trace JSON records none, through the agent's.
func TestIdleOverTheSession(t *testing.T) {
	needBins(t)
	const duration = 1500 * time.Millisecond
	idle := map[string]float64{}
	for _, tc := range []struct {
		name   string
		server []string
		args   []string
		format string
	}{
		{"python tracer off", nil, []string{"--python-tracer-level", "0"}, "xplane"},
		{"python tracer on", nil, []string{"--python-tracer-level", "1"}, "xplane"},
		{"trace JSON only", []string{"--empty-xplane"}, []string{"--python-tracer-level", "0"}, "trace_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startSim(t, append([]string{"--seed", "3"}, tc.server...)...)
			out := t.TempDir()
			args := append([]string{"capture", "--attach", url, "--duration", duration.String(), "--workload-body", seedBody(t),
				"--warmups", "1", "--requests", "2", "-o", out}, tc.args...)
			a := start(t, "fleetprof-agent", args...)
			if err := a.wait(t, 90*time.Second); err != nil {
				t.Fatalf("fleetprof-agent capture: %v\n%s", err, logtest.Tail(a.stderr.String(), 40))
			}
			c := readFpcap(t, filepath.Join(out, "capture.fpcap"))
			if c.Source.Format != tc.format {
				t.Fatalf("capture read from %s, want %s", c.Source.Format, tc.format)
			}
			if c.SpanFrom != capture.SpanFromSession || c.Span.Len() < duration.Nanoseconds()*capture.Nanosecond {
				t.Errorf("span %d ps from %q, want the session: at least the %v profiled", c.Span.Len(), c.SpanFrom, duration)
			}
			s := capture.Summarize(c)
			d, ok := s.Devices["/device:TPU:0"]
			if !ok {
				t.Fatalf("no /device:TPU:0 in %v", s.DeviceOrder)
			}
			idle[tc.name] = d.IdlePct
			t.Logf("span %.3f ms from %s, TPU 0 idle %.3f %%", float64(c.Span.Len())/float64(capture.Millisecond), c.SpanFrom, d.IdlePct)
			if d.IdlePct < 90 {
				t.Errorf("TPU 0 idle %.2f %% of %d ps, want most of the time profiled", d.IdlePct, c.Span.Len())
			}
		})
	}
	off, on := idle["python tracer off"], idle["python tracer on"]
	if off != 0 && on != 0 && math.Abs(off-on) > 0.5 {
		t.Errorf("idle %% %.2f with the python tracer off, %.2f with it on: want the same time profiled", off, on)
	}
}

func TestStandaloneCPUOnly(t *testing.T) {
	needBins(t)
	url := startSim(t, "--device-tracer", "ignored")
	out := t.TempDir()
	a := start(t, "fleetprof-agent", "capture", "--attach", url, "--duration", "300ms", "--device-tracer-level", "1",
		"--workload-body", seedBody(t), "--warmups", "0", "--requests", "2", "-o", out)
	err := a.wait(t, 90*time.Second)
	c := readFpcap(t, filepath.Join(out, "capture.fpcap"))
	if c.Context["check.device_tracer_ignored"] == "" || c.Context["check.no_device_plane"] == "" {
		t.Errorf("context lacks the device checks: %v", c.Context)
	}
	if !strings.Contains(a.stderr.String(), "device_tracer_ignored") {
		t.Error("the agent did not log the device_tracer_ignored check")
	}
	// The report of a CPU-only capture may fail in analyzers; the capture is kept either way.
	_ = err
	if _, err := os.Stat(filepath.Join(out, ".raw")); !os.IsNotExist(err) {
		t.Errorf("raw output kept without --keep-raw: %v", err)
	}
}

func TestStandaloneZeroByteXSpace(t *testing.T) {
	needBins(t)
	url := startSim(t, "--empty-xplane")
	out := t.TempDir()
	a := start(t, "fleetprof-agent", "capture", "--attach", url, "--duration", "300ms",
		"--workload-body", seedBody(t), "--warmups", "1", "--requests", "2", "-o", out)
	if err := a.wait(t, 90*time.Second); err != nil {
		t.Fatalf("fleetprof-agent capture: %v\n%s", err, logtest.Tail(a.stderr.String(), 40))
	}
	c := readFpcap(t, filepath.Join(out, "capture.fpcap"))
	if c.Context["check.zero_byte_xspace"] == "" || c.Source.Format != "trace_json" || c.DeviceOpEvents() == 0 {
		t.Errorf("capture from %s with %d device ops, context %v; want the trace JSON read and check.zero_byte_xspace",
			c.Source.Format, c.DeviceOpEvents(), c.Context)
	}
}

func TestStandaloneWrapDies(t *testing.T) {
	needBins(t)
	// A port nothing listens on: the wrapped server dies before binding it.
	a := start(t, "fleetprof-agent", "capture", "--attach", fmt.Sprintf("http://127.0.0.1:%d", transporttest.FreePort(t)), "-o", t.TempDir(),
		"--restart-backoff", "10ms", "--wrap", "--", filepath.Join(binDir, "fleetprof-simserver"), "--no-such-flag")
	err := a.wait(t, 30*time.Second)
	// The agent gives up after a few deaths; how many depends on timing.
	if err == nil || !regexp.MustCompile(`died [0-9]+ times before answering /health`).MatchString(a.stderr.String()) {
		t.Errorf("exit %v; want a failure naming the deaths:\n%s", err, logtest.Tail(a.stderr.String(), 10))
	}
}

func captureCmd(id string, body []byte) *agentv1.ControlResponse {
	return &agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Capture{Capture: &agentv1.CaptureCommand{
		CaptureId: id, Trigger: "manual", Options: &agentv1.CaptureOptions{
			DurationMs: 400, DeviceTracerLevel: 1,
			Workload: &agentv1.Workload{Endpoint: "/v1/score", Body: body, Warmups: 1, Requests: 2},
		}}}}
}

func TestDaemonWrapCrashAndSignal(t *testing.T) {
	needBins(t)
	fc := uplinktest.Start(t, uplinktest.Options{HeartbeatMS: 100})
	// The agent is told the wrapped server's URL before it starts it, and
	// restarts it on the same port: the port is picked here.
	port := transporttest.FreePort(t)
	work := t.TempDir()
	addrs, a := startListening(t, "fleetprof-agent", "--collector", fc.Addr, "--insecure", "--id", "e2e-agent", "--label", "model=qwen3",
		"--http", "127.0.0.1:0", "--work-dir", work, "--attach", fmt.Sprintf("http://127.0.0.1:%d", port),
		"--restart-backoff", "100ms", "--grace", "5s",
		"--wrap", "--", filepath.Join(binDir, "fleetprof-simserver"), "--port", fmt.Sprint(port), "--crash-after", "40")
	if !fc.Wait(30*time.Second, func() bool { return len(fc.Registers()) > 0 }) {
		t.Fatalf("the agent never registered\n%s", logtest.Tail(a.stderr.String(), 30))
	}
	metrics := "http://" + addrs["http"] + "/metrics"
	reg := fc.Registers()[0]
	if reg.GetAgentId() != "e2e-agent" || reg.GetLabels()["model"] != "qwen3" || len(reg.GetBackends()) != 1 {
		t.Errorf("Register = %v", reg)
	}
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/health", port), 20*time.Second)
	body, _ := os.ReadFile(seedBody(t))

	// A capture through the control stream ends committed at the collector.
	if err := fc.SendCommand(captureCmd("cap-1", body)); err != nil {
		t.Fatal(err)
	}
	if !fc.Wait(60*time.Second, func() bool { _, ok := fc.Committed("cap-1"); return ok }) {
		t.Fatalf("cap-1 not committed; progress %v\n%s", fc.Progress(), logtest.Tail(a.stderr.String(), 30))
	}
	b, _ := fc.Committed("cap-1")
	c, err := fpcap.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if c.Context["requests./v1/score"] != "3 (1 warmup + 2 profiled)" || c.DeviceOpEvents() == 0 {
		t.Errorf("committed capture: context %v, %d device ops", c.Context, c.DeviceOpEvents())
	}
	waitFor(t, "DONE progress", 10*time.Second, func() bool {
		for _, p := range fc.Progress() {
			if p.GetCaptureId() == "cap-1" && p.GetState() == agentv1.CaptureState_CAPTURE_STATE_DONE {
				return true
			}
		}
		return false
	})
	if m, _ := filepath.Glob(filepath.Join(work, "raw", "cap-1")); len(m) != 0 {
		t.Errorf("raw output kept after ingest: %v", m)
	}

	// The server crashes (after 40 requests): the agent restarts it and says so.
	url := fmt.Sprintf("http://127.0.0.1:%d/get_model_info", port)
	for range 45 {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
		}
	}
	waitFor(t, "a server restart in /metrics", 20*time.Second, func() bool {
		return transporttest.Metric(metrics, "fleetprof_agent_server_restarts_total") == "1"
	})
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/health", port), 20*time.Second)
	if err := fc.SendCommand(captureCmd("cap-2", body)); err != nil {
		t.Fatal(err)
	}
	if !fc.Wait(60*time.Second, func() bool { _, ok := fc.Committed("cap-2"); return ok }) {
		t.Fatalf("cap-2 not committed after the crash; progress %v", fc.Progress())
	}
	b, _ = fc.Committed("cap-2")
	c2, err := fpcap.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Context["server.restarts"] != "1" || !strings.Contains(c2.Context["server.log_tail"], "simserver") {
		t.Errorf("cap-2 context: restarts %q, log tail %q", c2.Context["server.restarts"], c2.Context["server.log_tail"])
	}
	waitFor(t, `captures_total{status="done"} 2`, 10*time.Second, func() bool {
		return transporttest.Metric(metrics, `fleetprof_agent_captures_total{status="done"}`) == "2"
	})
	if got := transporttest.Metric(metrics, `fleetprof_agent_captures_total{status="spooled"}`); got != "2" {
		t.Errorf(`captures_total{status="spooled"} = %q, want 2`, got)
	}

	// SIGTERM: forwarded to the server, the agent exits cleanly.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := a.wait(t, 20*time.Second); err != nil {
		t.Errorf("agent exit after SIGTERM = %v, want 0\n%s", err, logtest.Tail(a.stderr.String(), 20))
	}
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
		t.Error("the wrapped server still answers after the agent stopped")
	}
}

func TestDaemonKilledMidUpload(t *testing.T) {
	needBins(t)
	fc := uplinktest.Start(t, uplinktest.Options{HeartbeatMS: 100})
	url := startSim(t)
	work := t.TempDir()
	hold := make(chan struct{})
	var once sync.Once
	reached := make(chan struct{})
	fc.OnChunk(func(string, int64) error {
		once.Do(func() { close(reached) })
		<-hold
		return fmt.Errorf("collector lost the stream")
	})
	defer func() {
		select {
		case <-hold:
		default:
			close(hold)
		}
	}()
	args := []string{"--collector", fc.Addr, "--insecure", "--id", "e2e-agent", "--http", "", "--work-dir", work, "--attach", url}
	a := start(t, "fleetprof-agent", args...)
	if !fc.Wait(30*time.Second, func() bool { return len(fc.Registers()) == 1 }) {
		t.Fatal("the agent never registered")
	}
	body, _ := os.ReadFile(seedBody(t))
	if err := fc.SendCommand(captureCmd("cap-k", body)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("the upload never started\n%s", logtest.Tail(a.stderr.String(), 30))
	}
	// Kill -9 mid-upload: the spool holds the capture on disk.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait(t, 10*time.Second)
	spooled, err := os.ReadFile(filepath.Join(work, "spool", "cap-k.fpcap"))
	if err != nil {
		t.Fatalf("capture not in the spool after kill -9: %v", err)
	}
	close(hold)
	fc.OnChunk(nil)

	a2 := start(t, "fleetprof-agent", args...)
	if !fc.Wait(60*time.Second, func() bool { _, ok := fc.Committed("cap-k"); return ok }) {
		t.Fatalf("not committed after the agent restarted\n%s", logtest.Tail(a2.stderr.String(), 30))
	}
	got, _ := fc.Committed("cap-k")
	if !bytes.Equal(got, spooled) {
		t.Errorf("committed %d bytes differ from the %d spooled", len(got), len(spooled))
	}
	regs := fc.Registers()
	if p := regs[len(regs)-1].GetPendingCaptures(); len(p) != 1 || p[0] != "cap-k" {
		t.Errorf("restarted agent registered pending %v, want [cap-k]", p)
	}
	waitFor(t, "the spool to empty", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(work, "spool", "cap-k.fpcap"))
		return os.IsNotExist(err)
	})
}

// fleetprof runs the CLI against the collector and returns its output.
func fleetprof(t *testing.T, collector string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "fleetprof"), append([]string{"--collector", collector}, args...)...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// TestRealCollectorKilled runs the real collector: a fleet capture through
// the CLI, the collector killed -9 while the agent profiles, restarted on
// the same data: the capture arrives committed.
func TestRealCollectorKilled(t *testing.T) {
	needBins(t)
	data := t.TempDir()
	collector := "127.0.0.1:0" // the kernel picks the port; restarts listen on the same
	startCollector := func() *proc {
		addrs, p := startListening(t, "fleetprof-collector", "--data", data, "--insecure", "--listen", collector, "--http", "-",
			"--heartbeat", "200ms", "--plugins", filepath.Join(binDir, "plugins"))
		collector = addrs["grpc"]
		return p
	}
	col := startCollector()
	a := start(t, "fleetprof-agent", "--collector", collector, "--insecure", "--id", "vm-0", "--label", "model=qwen3",
		"--http", "", "--work-dir", t.TempDir(), "--attach", startSim(t), "--reconnect-max-backoff", "1s")
	waitFor(t, "the agent to connect with a healthy server", 30*time.Second, func() bool {
		out, _ := fleetprof(t, collector, "agents")
		return strings.Contains(out, "vm-0") && strings.Contains(out, "healthy")
	})

	// A fleet capture, done end to end.
	out, err := fleetprof(t, collector, "capture", "-l", "model=qwen3", "--duration", "500ms", "--workload-body", seedBody(t),
		"--workload-endpoint", "/v1/score", "--warmups", "1", "--requests", "2", "--wait")
	if err != nil || !strings.Contains(out, "done") {
		t.Fatalf("fleetprof capture --wait: %v\n%s\nagent:\n%s", err, out, logtest.Tail(a.stderr.String(), 20))
	}

	// The collector dies while the agent profiles; the capture waits in the spool.
	out, err = fleetprof(t, collector, "capture", "-l", "model=qwen3", "--duration", "2s", "--start-delay", "200ms",
		"--workload-body", seedBody(t), "--workload-endpoint", "/v1/score", "--warmups", "0", "--requests", "2")
	if err != nil {
		t.Fatalf("fleetprof capture: %v\n%s", err, out)
	}
	waitFor(t, "the agent to profile", 20*time.Second, func() bool {
		return strings.Count(a.stderr.String(), "msg=profiling") >= 2
	})
	_ = syscall.Kill(-col.cmd.Process.Pid, syscall.SIGKILL)
	col.wait(t, 10*time.Second)
	waitFor(t, "the capture to be spooled", 20*time.Second, func() bool {
		return strings.Count(a.stderr.String(), "capture spooled") >= 2
	})
	startCollector()
	waitFor(t, "two committed captures at the restarted collector", 60*time.Second, func() bool {
		out, _ := fleetprof(t, collector, "captures", "--format", "json")
		return strings.Count(out, `"capture_id"`) == 2
	})
	// The capture taken while the collector was down is the one that arrived late.
	second := a.stderr.String()
	second = second[strings.LastIndex(second, "capture spooled"):]
	id := second[strings.Index(second, "capture_id=")+len("capture_id="):]
	id = id[:strings.IndexByte(id, ' ')]
	if out, _ := fleetprof(t, collector, "captures", "--format", "json"); !strings.Contains(out, `"capture_id": "`+id+`"`) {
		t.Errorf("capture %s missing at the restarted collector:\n%s", id, logtest.Tail(out, 20))
	}
}
