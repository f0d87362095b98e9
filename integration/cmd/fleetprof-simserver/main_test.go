package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"

	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// binary is the fleetprof-simserver built once for the tests.
var binary struct {
	once sync.Once
	path string
	err  error
}

// build builds the binary into a temporary folder once.
func build(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "simserver-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "fleetprof-simserver")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// proc is a running simserver.
type proc struct {
	cmd    *exec.Cmd
	url    string
	addrs  map[string]string // what it listens on, by name, from --addr-file
	stderr *logtest.Buffer
	exited chan error
}

// start runs the binary with args on a port the kernel picks, reads the
// addresses back from its --addr-file and waits until /health answers 200.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	file := filepath.Join(t.TempDir(), "addrs.json")
	cmd := exec.Command(build(t), append([]string{"--port", "0", "--addr-file", file}, args...)...)
	p := &proc{cmd: cmd, stderr: &logtest.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(gone)
		p.exited <- err
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		p.exited <- nil
		if t.Failed() {
			t.Logf("simserver log:\n%s", p.stderr.String())
		}
	})
	p.addrs = transporttest.WaitAddrs(t, file, gone)
	p.url = "http://" + p.addrs["http"]
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("simserver never became healthy at %s", p.url)
	return nil
}

// wait returns the process's exit status, failing after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("simserver did not exit within %v", timeout)
		return -1
	}
}

// post sends a request and returns its status and body.
func post(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// seedFile reads a file of the seed run's inputs, or skips.
func seedFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(t, "seed-run", "inputs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBinarySeedWorkload(t *testing.T) {
	p := start(t, "--hostname", "bin:host", "--profiler-port", "0", "--startup-delay", "200ms")
	out := t.TempDir()
	var cfg map[string]any
	if err := json.Unmarshal(seedFile(t, "profile_config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["output_dir"] = out
	body, _ := json.Marshal(cfg)
	score := seedFile(t, "score_request.json")

	if code, _ := post(t, "POST", p.url+"/v1/score", seedFile(t, "warmup_request.json")); code != 200 {
		t.Fatalf("warm-up = %d", code)
	}
	if code, got := post(t, "POST", p.url+"/start_profile", body); code != 200 || got != "Start profiling.\n" {
		t.Fatalf("start_profile = %d %q", code, got)
	}
	for range 2 {
		if code, got := post(t, "POST", p.url+"/v1/score", score); code != 200 {
			t.Fatalf("score = %d %q", code, got)
		}
	}
	// num_steps 2 stopped the profile: poll until idle, as an agent does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, st := post(t, "GET", p.url+"/profile_status", nil)
		if st == `{"status":"idle"}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile still %s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Name != "bin_host.xplane.pb" || c.DeviceOpEvents() != 1240 || len(c.Windows) != 2 {
		t.Errorf("capture %s: %d device op events, %d windows; want bin_host.xplane.pb, 1240, 2",
			c.Source.Name, c.DeviceOpEvents(), len(c.Windows))
	}
	if d := c.Devices(); len(d) != 1 || d[0].Busy != 2*1_515_101_250 {
		t.Errorf("devices = %v, want TPU:0 busy 3,030,202,500 ps", d)
	}

	// The profiler service on loopback.
	conn, err := grpc.NewClient(p.addrs["profiler"], grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond)
		post(t, "POST", p.url+"/v1/score", score)
	}()
	resp, err := tensorflowpb.NewProfilerServiceClient(conn).Profile(t.Context(), &tensorflowpb.ProfileRequest{
		EmitXspace: true, Opts: &tensorflowpb.ProfileOptions{Version: 1, HostTracerLevel: 2, DeviceTracerLevel: 1, DurationMs: 300},
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	var ops int
	for _, pl := range resp.GetXspace().GetPlanes() {
		for _, l := range pl.GetLines() {
			if capture.IsDevicePlane(pl.GetName()) && capture.IsOpLine(l.GetName()) {
				ops += len(l.GetEvents())
			}
		}
	}
	if ops != 620 {
		t.Errorf("inline XSpace has %d op events, want 620 (one request)", ops)
	}

	// SIGTERM ends it cleanly.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
}

func TestBinaryCrashAfter(t *testing.T) {
	p := start(t, "--crash-after", "3")
	for i := range 3 {
		if code, _ := post(t, "GET", p.url+"/get_model_info", nil); code != 200 {
			t.Fatalf("request %d = %d, want 200", i, code)
		}
	}
	if code := p.wait(t, 10*time.Second); code != 1 {
		t.Errorf("exit status after --crash-after 3 = %d, want 1", code)
	}
}

func TestBinaryDeviceTracerIgnored(t *testing.T) {
	p := start(t, "--device-tracer", "ignored")
	out := t.TempDir()
	body := []byte(`{"output_dir":"` + out + `","device_tracer_level":1,"python_tracer_level":1}`)
	if code, _ := post(t, "POST", p.url+"/start_profile", body); code != 200 {
		t.Fatalf("start_profile = %d", code)
	}
	post(t, "POST", p.url+"/v1/score", seedFile(t, "score_request.json"))
	if code, got := post(t, "POST", p.url+"/stop_profile", nil); code != 200 || got != "Stop profiling. This will take some time.\n" {
		t.Fatalf("stop_profile = %d %q", code, got)
	}
	if _, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()}); !errors.Is(err, trim.ErrNoDevicePlane) {
		t.Errorf("load = %v, want trim.ErrNoDevicePlane", err)
	}
}

func TestBinaryBadFlags(t *testing.T) {
	cmd := exec.Command(build(t), "--device-tracer", "sometimes", "--port", "0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(out, []byte("device tracer")) {
		t.Errorf("bad --device-tracer: %v, %s; want exit 1 naming the flag", err, out)
	}
}
