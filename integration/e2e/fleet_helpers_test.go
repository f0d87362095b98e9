package e2e

// Helpers for the fleet tests: real fleetprof-collector, fleetprof-agent and
// fleetprof-simserver processes on loopback, each killed (its whole process
// group) when the test ends.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// proc is a started binary in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logtest.Buffer
	done chan struct{}
	err  error
}

// startProc starts one of the built binaries; t.Cleanup kills its group.
func startProc(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bins, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{name: name, cmd: cmd, out: &logtest.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Env = append(os.Environ(), "FLEETPROF_METADATA_URL=off")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if !p.wait(10 * time.Second) {
			t.Errorf("%s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s %s output (tail):\n%s", name, strings.Join(args, " "), logtest.Tail(p.out.String(), 40))
		}
	})
	return p
}

// kill sends SIGKILL to the process group.
func (p *proc) kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }

// killLeader sends SIGKILL to the process only (not the children it supervises).
func (p *proc) killLeader() { _ = p.cmd.Process.Kill() }

// wait reports whether the process exited within d.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// waitFor polls cond every 25 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// seedBody is the seed run's /v1/score request.
func seedBody(t testing.TB) string {
	t.Helper()
	return filepath.Join(fixtures.Dir(t), "seed-run", "inputs", "score_request.json")
}

// collector is a fleetprof-collector on loopback, restartable on the same
// data folder and addresses.
type collector struct {
	t       testing.TB
	addr    string // gRPC; 127.0.0.1:0 until started
	http    string // /metrics; 127.0.0.1:0 until started
	data    string
	plugins string
	extra   []string
	p       *proc
}

// newCollector starts a collector with the built analyzers (or plugins, if
// given) and a 200 ms heartbeat; extra flags are added as given.
func newCollector(ctx context.Context, t testing.TB, plugins string, extra ...string) *collector {
	t.Helper()
	if plugins == "" {
		plugins = filepath.Join(bins, "plugins")
	}
	c := &collector{
		t: t, addr: "127.0.0.1:0", http: "127.0.0.1:0", data: t.TempDir(), plugins: plugins, extra: extra,
	}
	c.start(ctx)
	return c
}

// start runs the collector and waits until it listens. The first start
// binds ports the kernel picks; later ones (restarts) bind the same.
func (c *collector) start(ctx context.Context) {
	c.t.Helper()
	file := addrFile(c.t)
	args := append([]string{"--data", c.data, "--insecure", "--listen", c.addr, "--http", c.http, "--addr-file", file,
		"--heartbeat", "200ms", "--plugins", c.plugins, "--shutdown-timeout", "2s", "--snapshot-interval", "0"}, c.extra...)
	c.p = startProc(c.t, "fleetprof-collector", args...)
	addrs := transporttest.WaitAddrs(c.t, file, c.p.done)
	c.addr, c.http = addrs["grpc"], addrs["http"]
}

// addrFile is a fresh path for a daemon's --addr-file.
func addrFile(t testing.TB) string { return filepath.Join(t.TempDir(), "addrs.json") }

// startSim starts fleetprof-simserver on its own, on a port the kernel
// picks, and returns the address it listens on, once it does.
func startSim(t testing.TB, args ...string) string {
	t.Helper()
	file := addrFile(t)
	p := startProc(t, "fleetprof-simserver", append([]string{"--port", "0", "--addr-file", file}, args...)...)
	return transporttest.WaitAddrs(t, file, p.done)["http"]
}

// startGCSEmu starts fleetprof-gcsemu on addr (port 0: one the kernel
// picks) and returns it with the address it listens on, once it does.
func startGCSEmu(t testing.TB, addr string, args ...string) (*proc, string) {
	t.Helper()
	file := addrFile(t)
	p := startProc(t, "fleetprof-gcsemu", append([]string{"--addr", addr, "--addr-file", file}, args...)...)
	return p, transporttest.WaitAddrs(t, file, p.done)["http"]
}

// kill9 kills the collector with SIGKILL and waits for it to exit.
func (c *collector) kill9() {
	c.t.Helper()
	c.p.kill()
	if !c.p.wait(10 * time.Second) {
		c.t.Fatal("the collector did not die")
	}
}

// metric returns the value of one sample line of the collector's /metrics.
func (c *collector) metric(name string) string {
	return transporttest.Metric("http://"+c.http+"/metrics", name)
}

// agent is a fleetprof-agent daemon wrapping a fleetprof-simserver.
type agent struct {
	id       string
	port     int    // the wrapped simulated server's HTTP port (0: none wrapped)
	metrics  string // the agent's /metrics URL, from addrFile
	addrFile string // the agent's --addr-file, if it has one
	work     string
	args     []string
	p        *proc
}

// agentOpts configures newAgent.
type agentOpts struct {
	labels []string // k=v
	extra  []string // more agent flags
	server []string // more simserver flags
}

// newAgent starts an agent with id that wraps a simulated server, and
// waits until the collector lists it healthy.
func newAgent(ctx context.Context, t testing.TB, c *collector, id string, o agentOpts) *agent {
	t.Helper()
	// The agent is told the wrapped server's URL before it starts it, and
	// restarts it on the same port: the port is picked here, not by the server.
	a := &agent{id: id, port: transporttest.FreePort(t), addrFile: addrFile(t), work: t.TempDir()}
	a.args = []string{"--collector", c.addr, "--insecure", "--id", id, "--http", "127.0.0.1:0", "--addr-file", a.addrFile,
		"--work-dir", a.work, "--attach", fmt.Sprintf("http://127.0.0.1:%d", a.port),
		"--restart-backoff", "100ms", "--grace", "2s", "--health-timeout", "30s"}
	for _, l := range o.labels {
		a.args = append(a.args, "--label", l)
	}
	a.args = append(a.args, o.extra...)
	a.args = append(a.args, "--wrap", "--", filepath.Join(bins, "fleetprof-simserver"), "--port", fmt.Sprint(a.port),
		"--hostname", id)
	a.args = append(a.args, o.server...)
	a.start(ctx, t, c)
	return a
}

// start runs the agent and waits until the collector lists it healthy.
func (a *agent) start(ctx context.Context, t testing.TB, c *collector) {
	t.Helper()
	a.run(t)
	waitFor(ctx, t, a.id+" connected with a healthy server", func() bool {
		return agentHealthy(ctx, t, c, a.id)
	})
}

// run starts the agent process; with an addrFile, it waits until the agent
// listens and points metrics at it (a restart picks a new port). The
// wrapped server runs in its own process group, so the cleanup (registered
// after startProc's, so run before it) stops the agent with SIGTERM, which
// stops the server too, and then kills whatever server is left, as after
// a SIGKILL of the agent.
func (a *agent) run(t testing.TB) {
	t.Helper()
	if a.addrFile != "" {
		_ = os.Remove(a.addrFile) // the last run's
	}
	p := startProc(t, "fleetprof-agent", a.args...)
	a.p = p
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(5 * time.Second)
		killStray(a.port)
	})
	if a.addrFile != "" {
		a.metrics = "http://" + transporttest.WaitAddrs(t, a.addrFile, p.done)["http"] + "/metrics"
	}
}

// killStray kills a fleetprof-simserver we built that still serves port
// (its agent died with SIGKILL and could not stop it); 0 is none.
func killStray(port int) {
	if port == 0 {
		return
	}
	exe := filepath.Join(bins, "fleetprof-simserver")
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || args[0] != exe {
			continue
		}
		for i := range args[:len(args)-1] {
			if args[i] == "--port" && args[i+1] == fmt.Sprint(port) {
				var pid int
				if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(f)), "%d", &pid); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
}

// waitHealthy waits until the collector lists the agent healthy.
func (a *agent) waitHealthy(ctx context.Context, t testing.TB, c *collector) {
	t.Helper()
	waitFor(ctx, t, a.id+" connected with a healthy server", func() bool {
		return agentHealthy(ctx, t, c, a.id)
	})
}

// agentHealthy reports whether `fleetprof agents` lists id with a healthy server.
func agentHealthy(ctx context.Context, t testing.TB, c *collector, id string) bool {
	out, _, code := cli(ctx, t, c, "agents", "--format", "json")
	if code != 0 {
		return false
	}
	var got []map[string]any
	if json.Unmarshal([]byte(out), &got) != nil {
		return false
	}
	for _, a := range got {
		if a["agent_id"] == id && a["connected"] == true && a["server_healthy"] == true {
			return true
		}
	}
	return false
}

// cli runs fleetprof against the collector, bounded by ctx.
func cli(ctx context.Context, t testing.TB, c *collector, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return runBin(ctx, t, "fleetprof", append([]string{"--collector", c.addr}, args...)...)
}

// mustCLI runs fleetprof and fails the test unless it exits 0.
func mustCLI(ctx context.Context, t testing.TB, c *collector, args ...string) string {
	t.Helper()
	out, errOut, code := cli(ctx, t, c, args...)
	if code != 0 {
		t.Fatalf("fleetprof %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// listedCapture is one entry of `fleetprof captures --format json`.
type listedCapture struct {
	ID      string            `json:"capture_id"`
	AgentID string            `json:"agent_id"`
	Status  string            `json:"status"`
	Trigger string            `json:"trigger"`
	FleetID string            `json:"fleet_id"`
	Labels  map[string]string `json:"labels"`
	Size    int64             `json:"size_bytes"`
	Backup  string            `json:"backup_status"`
}

// listCaptures returns what `fleetprof captures --format json` lists.
func listCaptures(ctx context.Context, t testing.TB, c *collector, args ...string) []listedCapture {
	t.Helper()
	out := mustCLI(ctx, t, c, append([]string{"captures", "--format", "json"}, args...)...)
	var got struct {
		Captures []listedCapture `json:"captures"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("captures --format json: %v\n%s", err, out)
	}
	return got.Captures
}

// deadline is the test's context: bounded by d and by the test's own deadline.
func deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sha256Hex returns the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sha256Sum returns the SHA-256 of b.
func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// statusCode is the name of err's gRPC status code.
func statusCode(err error) string { return status.Code(err).String() }
