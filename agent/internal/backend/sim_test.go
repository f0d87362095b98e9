package backend

// Tests against the simulated sglang-jax server binary, which reproduces
// the real server's bare HTTP 500s and its profiler service.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/sglang"
	"github.com/fleetprof/fleetprof/plugins/capture/load"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

var simBin string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "backend-sim-")
		if err != nil {
			return 1
		}
		defer os.RemoveAll(dir)
		if p, err := buildSim(dir); err != nil {
			fmt.Fprintf(os.Stderr, "simulated server not built (its tests skip): %v\n", err)
		} else {
			simBin = p
		}
		return m.Run()
	}()
	os.Exit(code)
}

func buildSim(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	root, err := fixtures.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "fleetprof-simserver")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./integration/cmd/fleetprof-simserver")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, b)
	}
	return out, nil
}

// startSim runs the simulated server on a port the kernel picks and
// returns its HTTP URL, read back from its --addr-file, once /health
// answers.
func startSim(t *testing.T, args ...string) string {
	t.Helper()
	return "http://" + startSimAddrs(t, args...)["http"]
}

// startSimAddrs is startSim returning every address the server listens on
// by name: "http" and, with --profiler-port 0, "profiler".
func startSimAddrs(t *testing.T, args ...string) map[string]string {
	t.Helper()
	if simBin == "" {
		t.Skip("simulated server not built")
	}
	file := filepath.Join(t.TempDir(), "addrs.json")
	cmd := exec.Command(simBin, append([]string{"--port", "0", "--addr-file", file, "--hostname", "sim"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	addrs := transporttest.WaitAddrs(t, file, exited)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + addrs["http"] + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addrs
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("simulated server not healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func score(c *sglang.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		for range 2 {
			code, err := c.Do(ctx, http.MethodPost, "/v1/score",
				[]byte(`{"model":"Qwen/Qwen3-0.6B","query":"Is this positive?","items":["Great product!","Terrible experience"],"label_token_ids":[9834,902],"apply_softmax":true}`))
			if err != nil || code != 200 {
				return fmt.Errorf("score: %d %v", code, err)
			}
		}
		return nil
	}
}

func TestSimHTTP(t *testing.T) {
	url := startSim(t)
	c := newClient(t, url, "")
	b := NewHTTP(c, HTTPOptions{Poll: 20 * time.Millisecond, FolderWait: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name string
		req  Request
	}{
		{"duration", Request{Duration: 200 * time.Millisecond, DeviceTracerLevel: ptr(1)}},
		{"num_steps", Request{NumSteps: 2, Duration: 10 * time.Second, DeviceTracerLevel: ptr(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.ID = tt.name
			req.Dir = filepath.Join(t.TempDir(), "raw")
			req.During = score(c)
			res, err := b.Capture(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.DuringErr != nil {
				t.Errorf("workload: %v", res.DuringErr)
			}
			capt := loadRun(ctx, t, res.RunDir)
			if capt.DeviceOpEvents() == 0 {
				t.Error("no device ops in the simulated server's trace")
			}
		})
	}
}

func TestSimNumStepsNextStep(t *testing.T) {
	// As sglang-jax: the profile stops only when the step after the last begins.
	url := startSim(t, "--auto-stop", "next-step")
	c := newClient(t, url, "")
	b := NewHTTP(c, HTTPOptions{Poll: 20 * time.Millisecond, Settle: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := b.Capture(ctx, Request{ID: "ns", Dir: t.TempDir(), NumSteps: 2, DeviceTracerLevel: ptr(1), During: score(c)})
	if err != nil {
		t.Fatal(err)
	}
	capt := loadRun(ctx, t, res.RunDir)
	if capt.DeviceOpEvents() == 0 {
		t.Error("no device ops")
	}
	if st, _ := c.ProfileStatus(ctx); st != "idle" {
		t.Errorf("profile_status = %q after the capture, want idle", st)
	}
}

func TestSimHTTPErrors(t *testing.T) {
	url := startSim(t)
	c := newClient(t, url, "")
	b := NewHTTP(c, HTTPOptions{FolderWait: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// Someone else is profiling: refused before /start_profile's bare 500.
	if err := c.StartProfile(ctx, sglang.StartRequest{OutputDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Capture(ctx, Request{Dir: t.TempDir()}); !errors.Is(err, ErrAlreadyProfiling) {
		t.Errorf("Capture while profiling = %v, want ErrAlreadyProfiling", err)
	}
	if err := c.StopProfile(ctx); err != nil {
		t.Fatal(err)
	}
	// The server's own 500 for a stop with nothing running.
	var se *sglang.StatusError
	if err := c.StopProfile(ctx); !errors.As(err, &se) || se.Code != 500 {
		t.Fatalf("second stop = %v, want HTTP 500", err)
	}
	// Someone stops our session mid-capture: nothing to stop.
	req := Request{Dir: t.TempDir(), Duration: 50 * time.Millisecond, During: func(ctx context.Context) error { return c.StopProfile(ctx) }}
	if _, err := b.Capture(ctx, req); !errors.Is(err, ErrNothingToStop) {
		t.Errorf("Capture after a foreign stop = %v, want ErrNothingToStop", err)
	}
}

func TestSimGRPC(t *testing.T) {
	sim := startSimAddrs(t, "--profiler-port", "0")
	c := newClient(t, "http://"+sim["http"], "")
	g, err := NewGRPC(sim["profiler"], GRPCOptions{HostName: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := g.Capture(ctx, Request{ID: "g1", Dir: t.TempDir(), Duration: 500 * time.Millisecond, DeviceTracerLevel: ptr(1), During: score(c)})
	if err != nil {
		t.Fatal(err)
	}
	capt := loadRun(ctx, t, res.RunDir)
	if capt.DeviceOpEvents() == 0 {
		t.Error("no device ops through the profiler service")
	}
	// The two profilers conflict: one session per process.
	if err := c.StartProfile(ctx, sglang.StartRequest{OutputDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	defer c.StopProfile(context.WithoutCancel(ctx))
	if _, err := g.Capture(ctx, Request{ID: "g2", Dir: t.TempDir(), Duration: 100 * time.Millisecond}); !errors.Is(err, ErrAlreadyProfiling) {
		t.Errorf("gRPC capture during an HTTP session = %v, want ErrAlreadyProfiling", err)
	}
}

// loadRun loads the capture a backend wrote to dir.
func loadRun(ctx context.Context, t *testing.T, dir string) *capture.Capture {
	t.Helper()
	c, err := load.File(ctx, dir, load.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return c
}
