package e2e

// Fault tests (issue 7, item 4): real binaries on loopback, each bounded by
// a context deadline. The agents' --upload-pause (a testing-only knob) makes
// an upload slow enough to interrupt.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// startCapture starts a fleet capture without waiting and returns the
// capture id given to each agent.
func startCapture(ctx context.Context, t testing.TB, c *collector, sel string, extra ...string) (string, map[string]string) {
	t.Helper()
	args := append([]string{"capture", "--selector", sel, "--duration", "500ms", "--start-delay", "200ms",
		"--workload-body", seedBody(t), "--workload-endpoint", "/v1/score", "--warmups", "1", "--requests", "2",
		"--format", "json"}, extra...)
	out := mustCLI(ctx, t, c, args...)
	var r fleetResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("capture --format json: %v\n%s", err, out)
	}
	ids := map[string]string{}
	for _, a := range r.Agents {
		ids[a.AgentID] = a.CaptureID
	}
	return r.FleetID, ids
}

// num parses a metric value; "" is 0.
func num(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// committedCount is how many captures the collector has committed since it started.
func (c *collector) committedCount() float64 {
	return num(c.metric("fleetprof_collector_ingest_captures_total"))
}

// exportFpcap exports a capture's .fpcap and returns its SHA-256.
func exportFpcap(ctx context.Context, t testing.TB, c *collector, id string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), id+".fpcap")
	mustCLI(ctx, t, c, "export", id, "-o", out)
	return sha(t, out)
}

// waitCaptured waits until the capture is listed (committed or analyzed).
func waitCaptured(ctx context.Context, t testing.TB, c *collector, id string) listedCapture {
	t.Helper()
	var got listedCapture
	waitFor(ctx, t, "capture "+id+" listed", func() bool {
		for _, l := range listCaptures(ctx, t, c) {
			if l.ID == id {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// TestFaultCollectorKilledMidUpload kills the collector with SIGKILL after
// it staged the upload's chunk and before UploadEnd; the restarted collector
// resumes the upload where it stopped and stores the agent's spool file
// byte for byte.
func TestFaultCollectorKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	c := newCollector(ctx, t, "")
	a := newAgent(ctx, t, c, "vm-0", agentOpts{labels: []string{"vm=0"}, extra: []string{"--upload-pause", "1500ms", "--reconnect-max-backoff", "500ms"}})
	_, ids := startCapture(ctx, t, c, "vm=0")
	id := ids["vm-0"]
	waitFor(ctx, t, "the collector to stage a chunk", func() bool {
		return num(c.metric("fleetprof_collector_ingest_bytes_total")) > 0
	})
	if c.committedCount() != 0 {
		t.Fatal("committed before the kill: the upload was not interrupted")
	}
	c.kill9()
	spooled, err := os.ReadFile(filepath.Join(a.work, "spool", id+".fpcap"))
	if err != nil {
		t.Fatalf("the capture is not in the agent's spool while the collector is down: %v", err)
	}
	c.start(ctx)
	waitCaptured(ctx, t, c, id)
	if got, want := exportFpcap(ctx, t, c, id), sha256Hex(spooled); got != want {
		t.Errorf("stored .fpcap sha256 %s, the agent spooled %s", got, want)
	}
	if !strings.Contains(c.p.out.String(), "upload resumed") {
		t.Error(`the restarted collector did not log "upload resumed": the upload started over`)
	}
	waitFor(ctx, t, "the agent's spool to empty", func() bool {
		_, err := os.Stat(filepath.Join(a.work, "spool", id+".fpcap"))
		return os.IsNotExist(err)
	})
}

// TestFaultAgentKilledMidUpload kills the agent with SIGKILL mid-upload;
// restarted on the same work folder it resumes from its spool and the
// capture is committed exactly once.
func TestFaultAgentKilledMidUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	c := newCollector(ctx, t, "")
	// The server runs on its own (--attach), so it outlives the agent.
	sim := startSim(t, "--hostname", "vm-k")
	a := &agent{id: "vm-k", work: t.TempDir()}
	a.args = []string{"--collector", c.addr, "--insecure", "--id", a.id, "--http", "", "--work-dir", a.work,
		"--attach", "http://" + sim, "--label", "vm=k", "--upload-pause", "1500ms",
		"--reconnect-max-backoff", "500ms", "--health-timeout", "30s"}
	a.start(ctx, t, c)
	_, ids := startCapture(ctx, t, c, "vm=k")
	id := ids["vm-k"]
	waitFor(ctx, t, "the collector to stage a chunk", func() bool {
		return num(c.metric("fleetprof_collector_ingest_bytes_total")) > 0
	})
	a.p.kill()
	a.p.wait(10 * time.Second)
	spooled, err := os.ReadFile(filepath.Join(a.work, "spool", id+".fpcap"))
	if err != nil {
		t.Fatalf("capture not in the spool after kill -9: %v", err)
	}
	a.start(ctx, t, c)
	waitCaptured(ctx, t, c, id)
	waitFor(ctx, t, "the restarted agent's spool to empty", func() bool {
		_, err := os.Stat(filepath.Join(a.work, "spool", id+".fpcap"))
		return os.IsNotExist(err)
	})
	if got, want := exportFpcap(ctx, t, c, id), sha256Hex(spooled); got != want {
		t.Errorf("stored .fpcap sha256 %s, the agent spooled %s", got, want)
	}
	if n := len(listCaptures(ctx, t, c, "--agent", "vm-k")); n != 1 {
		t.Errorf("vm-k has %d captures listed, want 1", n)
	}
	if n := c.committedCount(); n != 1 {
		t.Errorf("the collector committed %v captures, want 1 (no duplicate)", n)
	}
	if !strings.Contains(c.p.out.String(), "upload resumed") {
		t.Error(`the collector did not log "upload resumed": the restarted agent started over`)
	}
}

// dial connects to the collector in plain text (loopback).
func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestFaultSpoolFull fills an agent's spool: with uploads held back (a
// long --upload-pause) and a spool that holds one capture but not two, the
// second capture drops the first (the oldest), the drop is counted in the
// agent's /metrics and reported, and the agent keeps serving.
func TestFaultSpoolFull(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	c := newCollector(ctx, t, "")
	a := newAgent(ctx, t, c, "vm-s", agentOpts{labels: []string{"vm=s"}, extra: []string{"--upload-pause", "60s"}})
	spool := filepath.Join(a.work, "spool")
	_, first := startCapture(ctx, t, c, "vm=s")
	path1 := filepath.Join(spool, first["vm-s"]+".fpcap")
	waitFor(ctx, t, "the first capture spooled", func() bool {
		_, err := os.Stat(path1)
		return err == nil
	})
	st, err := os.Stat(path1)
	if err != nil {
		t.Fatal(err)
	}
	// Restart the agent (SIGTERM: it stops its server too) with a spool
	// for one and a half such captures.
	_ = a.p.cmd.Process.Signal(os.Interrupt)
	if !a.p.wait(10 * time.Second) {
		t.Fatal("the agent did not stop on SIGINT")
	}
	killStray(a.port)
	a.args = append([]string{"--spool-max-bytes", fmt.Sprint(st.Size() * 3 / 2)}, a.args...)
	a.start(ctx, t, c)
	if _, err := os.Stat(path1); err != nil {
		t.Fatalf("the restarted agent lost its spooled capture: %v", err)
	}
	_, second := startCapture(ctx, t, c, "vm=s")
	path2 := filepath.Join(spool, second["vm-s"]+".fpcap")
	waitFor(ctx, t, "the second capture spooled and the first dropped", func() bool {
		_, err1 := os.Stat(path1)
		_, err2 := os.Stat(path2)
		return os.IsNotExist(err1) && err2 == nil
	})
	waitFor(ctx, t, "the drop counted in /metrics", func() bool {
		return num(transporttest.Metric(a.metrics, "fleetprof_agent_spool_dropped_total")) == 1
	})
	// The agent keeps serving: healthy at the collector, and it takes
	// another capture (which drops the second in turn).
	a.waitHealthy(ctx, t, c)
	_, third := startCapture(ctx, t, c, "vm=s")
	waitFor(ctx, t, "the third capture spooled", func() bool {
		_, err := os.Stat(filepath.Join(spool, third["vm-s"]+".fpcap"))
		return err == nil
	})
	waitFor(ctx, t, "the second drop counted", func() bool {
		return num(transporttest.Metric(a.metrics, "fleetprof_agent_spool_dropped_total")) == 2
	})
}

// TestFaultPluginCrashAndHang runs the collector with two extra analyzers,
// one that crashes and one that hangs: the report shows each as a section
// error, the other sections are there, and the collector keeps ingesting.
func TestFaultPluginCrashAndHang(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	plugins := t.TempDir()
	builtin, err := os.ReadDir(filepath.Join(bins, "plugins"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range builtin {
		if e.Name() == "plugins.sha256" {
			continue
		}
		copyFile(t, filepath.Join(bins, "plugins", e.Name()), filepath.Join(plugins, e.Name()))
	}
	for _, n := range []string{"crash", "hang"} {
		copyFile(t, filepath.Join(bins, "testplugin"), filepath.Join(plugins, n))
	}
	if err := writeAllowlist(plugins); err != nil {
		t.Fatal(err)
	}
	c := newCollector(ctx, t, plugins, "--plugin-timeout", "3s")
	newAgent(ctx, t, c, "vm-p", agentOpts{labels: []string{"vm=p"}})
	for i := range 2 {
		res, errOut, code := fleetCapture(ctx, t, c, "vm=p")
		if code != 0 || len(res.Agents) != 1 || res.Agents[0].Result != "done" {
			t.Fatalf("capture %d: exit %d %+v\n%s", i, code, res, errOut)
		}
		id := res.Agents[0].CaptureID
		var l listedCapture
		waitFor(ctx, t, "analysis of "+id, func() bool {
			l = waitCaptured(ctx, t, c, id)
			return l.Status != "committed"
		})
		out := mustCLI(ctx, t, c, "report", id, "--format", "json")
		var rep struct {
			Sections map[string]struct {
				Rows  []json.RawMessage `json:"rows"`
				Error string            `json:"error"`
			} `json:"sections"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for name, s := range rep.Sections {
			switch {
			case name == "crash" || name == "hang":
				if s.Error == "" {
					t.Errorf("capture %s: section %s has no error", id, name)
				}
				t.Logf("section %s: %s", name, s.Error)
			case s.Error == "" && len(s.Rows) > 0:
				ok++
			}
		}
		if _, found := rep.Sections["crash"]; !found {
			t.Errorf("capture %s: no crash section in %v", id, keys(rep.Sections))
		}
		if _, found := rep.Sections["hang"]; !found {
			t.Errorf("capture %s: no hang section in %v", id, keys(rep.Sections))
		}
		if ok == 0 {
			t.Errorf("capture %s: no built-in section has rows", id)
		}
	}
	if n := num(c.metric(`fleetprof_collector_analyzer_failures_total{analyzer="crash"}`)); n < 1 {
		t.Logf("analyzer failure metric for crash: %v", n)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// copyFile copies an executable.
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestFaultModelServerCrash crashes the simulated server in the middle of a
// capture's workload: the agent reports a named failure in the capture's
// progress and restarts the server.
func TestFaultModelServerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	c := newCollector(ctx, t, "")
	a := newAgent(ctx, t, c, "vm-c", agentOpts{labels: []string{"vm=c"}, server: []string{"--crash-after", "6"}})
	res, errOut, code := fleetCapture(ctx, t, c, "vm=c", "--requests", "20", "--duration", "0")
	if code == 0 || len(res.Agents) != 1 {
		t.Fatalf("capture over a crashing server: exit %d %+v\n%s", code, res, errOut)
	}
	p := res.Agents[0]
	if p.Result != "failed" || p.Message == "" {
		t.Errorf("agent result %q %q, want failed with a reason", p.Result, p.Message)
	}
	t.Logf("failure: %s", p.Message)
	waitFor(ctx, t, "the server restarted", func() bool {
		return num(transporttest.Metric(a.metrics, "fleetprof_agent_server_restarts_total")) >= 1
	})
	a.waitHealthy(ctx, t, c)
	if l := listCaptures(ctx, t, c, "--agent", "vm-c"); len(l) != 0 {
		t.Errorf("a failed capture is listed: %v", l)
	}
}

// TestFaultRogueClient sends a collector what no agent should: garbage
// bytes announced as a capture, messages over the size limit, chunks over
// 1 MiB, bad capture ids and protocol violations. Each is refused with the
// right status, the stream is closed, and nothing is stored.
func TestFaultRogueClient(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, time.Minute)
	c := newCollector(ctx, t, "")
	cc := dial(t, c.addr)
	client := agentv1.NewAgentServiceClient(cc)
	garbage := []byte(strings.Repeat("not an fpcap ", 100))
	start := func(id string, data []byte) *agentv1.UploadRequest {
		s := sha256Sum(data)
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
			CaptureId: id, AgentId: "rogue", Chunks: 1, Bytes: int64(len(data)), Sha256: s}}}
	}
	chunk := func(seq, off int64, data []byte) *agentv1.UploadRequest {
		return &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: seq, Offset: off, Data: data}}}
	}
	end := &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: 1}}}
	big := make([]byte, 5<<20)
	tests := []struct {
		name string
		msgs []*agentv1.UploadRequest
		want string // the status code's name
	}{
		{"garbage capture", []*agentv1.UploadRequest{start("rogue-1", garbage), chunk(0, 0, garbage), end}, "InvalidArgument"},
		{"message over the limit", []*agentv1.UploadRequest{start("rogue-2", big), chunk(0, 0, big)}, "ResourceExhausted"},
		{"chunk over 1 MiB", []*agentv1.UploadRequest{start("rogue-3", big[:2<<20]), chunk(0, 0, big[:2<<20])}, "InvalidArgument"},
		{"path in the capture id", []*agentv1.UploadRequest{start("../../etc/passwd", garbage)}, "InvalidArgument"},
		{"dot dot capture id", []*agentv1.UploadRequest{start("..", garbage)}, "InvalidArgument"},
		{"chunk first", []*agentv1.UploadRequest{chunk(0, 0, garbage)}, "InvalidArgument"},
		{"chunk out of sequence", []*agentv1.UploadRequest{start("rogue-4", garbage), chunk(3, 0, garbage)}, "FailedPrecondition"},
		{"end before the bytes", []*agentv1.UploadRequest{start("rogue-5", garbage), end}, "FailedPrecondition"},
		{"empty message", []*agentv1.UploadRequest{start("rogue-6", garbage), {}}, "InvalidArgument"},
		{"sha256 mismatch", []*agentv1.UploadRequest{start("rogue-7", garbage), chunk(0, 0, append([]byte("x"), garbage[1:]...)), end}, "DataLoss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			stream, err := client.Upload(sctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				if err := stream.Send(m); err != nil {
					break // the collector closed the stream; Recv says why
				}
			}
			var rerr error
			for rerr == nil {
				_, rerr = stream.Recv()
			}
			if got := statusCode(rerr); got != tt.want {
				t.Errorf("stream ended with %v, want %s", rerr, tt.want)
			}
			if rerr == io.EOF {
				t.Error("the collector ended the stream as if all were well")
			}
		})
	}
	// Control: the first message must be Register; a stream that sends
	// anything else is refused.
	stream, err := client.Control(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{}}})
	if _, err := stream.Recv(); err == nil || err == io.EOF {
		t.Errorf("a control stream without Register: %v, want an error", err)
	}
	if l := listCaptures(ctx, t, c); len(l) != 0 {
		t.Errorf("rogue uploads stored %d captures: %v", len(l), l)
	}
	if n := c.committedCount(); n != 0 {
		t.Errorf("%v captures committed", n)
	}
	// The collector is fine: a real agent still works.
	newAgent(ctx, t, c, "vm-ok", agentOpts{labels: []string{"vm=ok"}})
	if res, errOut, code := fleetCapture(ctx, t, c, "vm=ok"); code != 0 {
		t.Fatalf("capture after the rogue client: exit %d %+v\n%s", code, res, errOut)
	}
}
