package e2e

// Issue 13's adversarial findings 1, 4, 5, 9 and 11, kept as tests through
// the real fleetprof-collector with mTLS on: a hostile client holding a real
// agent certificate (integration/internal/hostile) and real agents.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/integration/internal/hostile"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"

	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// secure is a collector serving agents over mTLS on one port and the API
// (tokens) on another, with a PKI that has a certificate per agent.
type secure struct {
	c      *collector
	pki    string
	agents string   // the agents' address (--listen); 127.0.0.1:0 until started
	tls    []string // the CLI's flags: --tls-ca and an admin --token
	bin    string   // the collector binary under bins
	flags  []string // its flags besides the addresses, TLS and data
}

// startSecure makes a CA, a collector certificate and one agent
// certificate per id, an admin token, and starts the collector (bin under
// bins, "" for fleetprof-collector) with extra flags.
func startSecure(ctx context.Context, t *testing.T, bin string, ids []string, extra ...string) *secure {
	t.Helper()
	s := &secure{pki: t.TempDir(), agents: "127.0.0.1:0", bin: bin, flags: extra}
	if s.bin == "" {
		s.bin = "fleetprof-collector"
	}
	data := t.TempDir()
	must := func(name string, args ...string) string { t.Helper(); return mustRunBin(ctx, t, name, args...) }
	must("fleetprof", "certs", "init", "--dir", s.pki)
	must("fleetprof", "certs", "issue", "--dir", s.pki, "--name", "collector", "--kind", "collector", "--host", "127.0.0.1,localhost")
	for _, id := range ids {
		must("fleetprof", "certs", "issue", "--dir", s.pki, "--name", id, "--kind", "agent")
	}
	token := strings.SplitN(must("fleetprof-collector", "token", "create", "--data", data, "--role", "admin", "--name", "e2e"), "\n", 2)[0]
	s.tls = []string{"--tls-ca", filepath.Join(s.pki, "ca.pem"), "--token", token}
	s.c = &collector{t: t, addr: "127.0.0.1:0", http: "127.0.0.1:0", data: data}
	s.start(ctx, t)
	return s
}

// start runs the collector on its addresses (the first start on ports the
// kernel picks, later ones on the same) and data, and waits for its API.
func (s *secure) start(ctx context.Context, t *testing.T) {
	t.Helper()
	file := addrFile(t)
	args := append([]string{"--data", s.c.data, "--listen", s.agents, "--api-listen", s.c.addr, "--http", s.c.http, "--addr-file", file,
		"--tls-cert", filepath.Join(s.pki, "collector.pem"), "--tls-key", filepath.Join(s.pki, "collector-key.pem"),
		"--tls-client-ca", filepath.Join(s.pki, "ca.pem"), "--heartbeat", "200ms", "--plugins", filepath.Join(bins, "plugins"),
		"--shutdown-timeout", "2s", "--snapshot-interval", "0"}, s.flags...)
	s.c.p = startProc(t, s.bin, args...)
	addrs := transporttest.WaitAddrs(t, file, s.c.p.done)
	s.agents, s.c.addr, s.c.http = addrs["grpc"], addrs["api"], addrs["http"]
	waitFor(ctx, t, "the collector's API", func() bool {
		select {
		case <-s.c.p.done:
			t.Fatalf("the collector exited: %v\n%s", s.c.p.err, logtest.Tail(s.c.p.out.String(), 30))
		default:
		}
		_, _, code := cli(ctx, t, s.c, append([]string{"agents"}, s.tls...)...)
		return code == 0
	})
}

// dial connects to the agents' port as agent id, with its certificate.
func (s *secure) dial(t *testing.T, id string) *grpc.ClientConn {
	t.Helper()
	cc, err := hostile.Dial(s.agents, filepath.Join(s.pki, id+".pem"), filepath.Join(s.pki, id+"-key.pem"),
		filepath.Join(s.pki, "ca.pem"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// agent starts a real agent with id's certificate, wrapping a simulated
// server, before which prepare (if set) runs with its work folder; it
// waits until the collector lists it healthy.
func (s *secure) agent(ctx context.Context, t *testing.T, id, label string, prepare func(work string)) *agent {
	t.Helper()
	// The agent is told the wrapped server's URL before it starts it: the
	// port is picked here, not by the server.
	a := &agent{id: id, port: transporttest.FreePort(t), addrFile: addrFile(t), work: t.TempDir()}
	if prepare != nil {
		prepare(a.work)
	}
	a.args = []string{"--collector", s.agents, "--tls-cert", filepath.Join(s.pki, id+".pem"),
		"--tls-key", filepath.Join(s.pki, id+"-key.pem"), "--tls-ca", filepath.Join(s.pki, "ca.pem"),
		"--http", "127.0.0.1:0", "--addr-file", a.addrFile, "--work-dir", a.work,
		"--attach", fmt.Sprintf("http://127.0.0.1:%d", a.port), "--restart-backoff", "100ms", "--grace", "2s",
		"--health-timeout", "30s", "--reconnect-max-backoff", "1s", "--label", label,
		"--wrap", "--", filepath.Join(bins, "fleetprof-simserver"), "--port", fmt.Sprint(a.port), "--hostname", id}
	a.run(t)
	s.waitHealthy(ctx, t, id)
	return a
}

// waitHealthy waits until the collector lists agent id connected and healthy.
func (s *secure) waitHealthy(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	waitFor(ctx, t, id+" connected and healthy", func() bool {
		out, _, code := cli(ctx, t, s.c, append([]string{"agents", "--format", "json"}, s.tls...)...)
		var list []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			return false
		}
		for _, a := range list {
			if a["agent_id"] == id && a["connected"] == true && a["server_healthy"] == true {
				return true
			}
		}
		return false
	})
}

// captured waits until capture id is listed and returns it.
func (s *secure) captured(ctx context.Context, t *testing.T, id string) listedCapture {
	t.Helper()
	var got listedCapture
	waitFor(ctx, t, "capture "+id+" listed", func() bool {
		for _, l := range listCaptures(ctx, t, s.c, s.tls...) {
			if l.ID == id {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// captureCmd runs `fleetprof capture --wait` with the seed's workload in
// the background and returns its result when it ends.
func (s *secure) captureCmd(ctx context.Context, t *testing.T, sel string, extra ...string) <-chan fleetOutcome {
	t.Helper()
	args := append([]string{"--collector", s.c.addr, "capture", "--selector", sel, "--duration", "500ms", "--start-delay", "300ms",
		"--workload-body", seedBody(t), "--workload-endpoint", "/v1/score", "--warmups", "1", "--requests", "2",
		"--wait", "--format", "json"}, append(extra, s.tls...)...)
	ch := make(chan fleetOutcome, 1)
	go func() {
		cmd := exec.CommandContext(ctx, filepath.Join(bins, "fleetprof"), args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		ch <- fleetOutcome{out: out.String(), errOut: errb.String(), err: err}
	}()
	return ch
}

// fleetOutcome is how a background `fleetprof capture --wait` ended.
type fleetOutcome struct {
	out, errOut string
	err         error
}

// result parses the outcome's JSON, failing the test if it has none.
func (o fleetOutcome) result(t *testing.T) fleetResult {
	t.Helper()
	var r fleetResult
	if err := json.Unmarshal([]byte(o.out), &r); err != nil {
		t.Fatalf("fleetprof capture: %v, %v\nstdout:\n%s\nstderr:\n%s", o.err, err, o.out, o.errOut)
	}
	return r
}

// part returns agent id's part of a fleet result.
func (r fleetResult) part(id string) (result, message string) {
	for _, a := range r.Agents {
		if a.AgentID == id {
			return a.Result, a.Message
		}
	}
	return "", ""
}

// TestHostileForgedFleetCapture is issue 13's finding 1: an agent with a
// real certificate, asked to take part in a fleet capture, uploads a
// forgery under another agent's part of it (<fleet id>.<victim>) as soon as
// the command goes out. The collector refuses it with PermissionDenied,
// logs and counts it; the victim's own capture commits as the victim's and
// its part is done; a repeat after the commit is refused too, not answered
// "committed"; and Register does not tell the hostile agent which of the
// victim's capture ids exist.
func TestHostileForgedFleetCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 3*time.Minute)
	s := startSecure(ctx, t, "", []string{"victim", "mallory"})
	s.agent(ctx, t, "victim", "pool=p", nil)
	cc := s.dial(t, "mallory")
	ctl, err := hostile.Register(ctx, cc, &agentv1.Register{AgentId: "mallory", Host: "mallory", Labels: map[string]string{"pool": "p"}, Backends: []string{"http"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	s.waitHealthy(ctx, t, "mallory")

	done := s.captureCmd(ctx, t, "pool=p", "--deadline", "60s")
	cmd, err := ctl.Command(ctx)
	if err != nil {
		t.Fatalf("mallory got no capture command: %v", err)
	}
	victimID := cmd.GetFleetId() + ".victim"
	forged, sum, err := hostile.Capture("forged-by-mallory")
	if err != nil {
		t.Fatal(err)
	}
	err = hostile.Upload{CaptureID: victimID, AgentID: "mallory", Data: forged, SHA256: sum}.Send(ctx, cc)
	if statusCode(err) != "PermissionDenied" {
		t.Fatalf("mallory's forgery of %s: %v, want PermissionDenied", victimID, err)
	}
	_ = ctl.Progress(&agentv1.CaptureProgress{CaptureId: cmd.GetCaptureId(), State: agentv1.CaptureState_CAPTURE_STATE_FAILED, Message: "not capturing"})

	var out fleetOutcome
	select {
	case out = <-done:
	case <-ctx.Done():
		t.Fatal("the fleet capture did not finish")
	}
	res := out.result(t)
	if result, msg := res.part("victim"); result != "done" {
		t.Errorf("victim's part: %s %q, want done", result, msg)
	}
	got := s.captured(ctx, t, victimID)
	if got.AgentID != "victim" {
		t.Errorf("capture %s is stored as %q's, want victim's", victimID, got.AgentID)
	}
	file := filepath.Join(t.TempDir(), "v.fpcap")
	mustCLI(ctx, t, s.c, append([]string{"export", victimID, "-o", file}, s.tls...)...)
	if sha(t, file) == sha256Hex(forged) {
		t.Error("the stored capture is mallory's forgery")
	}
	// After the commit: refused, not "committed" (which would make an
	// agent drop its own spooled copy).
	err = hostile.Upload{CaptureID: victimID, AgentID: "mallory", Data: forged, SHA256: sum}.Send(ctx, cc)
	if statusCode(err) != "PermissionDenied" {
		t.Errorf("mallory's upload of the committed %s: %v, want PermissionDenied", victimID, err)
	}
	// Register answers only mallory's own committed captures.
	ctl.Close()
	probe, err := hostile.Register(ctx, cc, &agentv1.Register{AgentId: "mallory", PendingCaptures: []string{victimID, "no-such-capture"}})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if c := probe.Registered().GetCommitted(); len(c) != 0 {
		t.Errorf("Registered tells mallory %v are committed, want nothing of the victim's", c)
	}
	if n := num(s.c.metric(`fleetprof_collector_ingest_rejected_total{reason="not_owner"}`)); n != 2 {
		t.Errorf("ingest_rejected_total{reason=not_owner} = %v, want 2", n)
	}
	if n := num(s.c.metric(`fleetprof_collector_auth_denied_total{method="/fleetprof.agent.v1.AgentService/Upload",reason="identity_mismatch"}`)); n != 2 {
		t.Errorf("auth_denied_total{Upload,identity_mismatch} = %v, want 2", n)
	}
	if log := s.c.p.out.String(); !strings.Contains(log, "call denied") || !strings.Contains(log, victimID) {
		t.Errorf("the collector's log does not name the refused upload of %s:\n%s", victimID, logtest.Tail(log, 20))
	}
}

// TestHostileUploadSlots is issue 13's finding 4: an agent certificate that
// keeps opening upload streams and sends nothing holds at most its own
// slots (4); the rest of its streams are refused with ResourceExhausted at
// once; another agent's capture uploads meanwhile; streams without an
// UploadStart, or idle after it, are closed at their deadlines
// (DeadlineExceeded) and give their slots back.
func TestHostileUploadSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 3*time.Minute)
	s := startSecure(ctx, t, "", []string{"victim", "mallory"},
		"--max-uploads", "8", "--upload-start-timeout", "2s", "--upload-idle-timeout", "2s")
	s.agent(ctx, t, "victim", "pool=v", nil)
	cc := s.dial(t, "mallory")

	// 20 streams at once: 4 are held, 16 refused at once.
	held := make([]*hostile.Held, 20)
	for i := range held {
		held[i] = hostile.Hold(ctx, cc, nil)
	}
	refused := 0
	for _, h := range held {
		if ended, err := h.Wait(time.Second); ended && statusCode(err) == "ResourceExhausted" {
			refused++
		}
	}
	if refused != 16 {
		t.Errorf("%d of mallory's 20 idle streams refused at once, want 16 (4 held)", refused)
	}
	for _, h := range held {
		h.Release()
	}
	// Mallory keeps re-opening streams while the victim captures.
	var mu sync.Mutex
	ends := map[string]int{}
	hctx, stop := context.WithCancel(ctx)
	var hog sync.WaitGroup
	for range 20 {
		hog.Go(func() {
			for hctx.Err() == nil {
				_, err := hostile.Hold(hctx, cc, nil).Wait(time.Minute)
				mu.Lock()
				ends[statusCode(err)]++
				mu.Unlock()
				select { // a refused stream is re-opened, but not in a busy loop
				case <-hctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	out := <-s.captureCmd(ctx, t, "pool=v", "--deadline", "60s")
	stop()
	hog.Wait()
	if result, msg := out.result(t).part("victim"); result != "done" {
		t.Errorf("victim's capture while mallory hogs uploads: %s %q, want done", result, msg)
	}
	mu.Lock()
	t.Logf("mallory's hog streams ended: %v", ends)
	if ends["ResourceExhausted"] == 0 {
		t.Error("none of mallory's hog streams was refused")
	}
	mu.Unlock()

	// Idle streams end at their deadlines: one without UploadStart, one
	// silent after it.
	waitFor(ctx, t, "the hog's streams closed", func() bool { return num(s.c.metric("fleetprof_collector_ingest_streams")) == 0 })
	t0 := time.Now()
	noStart := hostile.Hold(ctx, cc, nil)
	data := make([]byte, 3000)
	idle := hostile.Hold(ctx, cc, &agentv1.UploadStart{CaptureId: "mallory-idle", AgentId: "mallory", Chunks: 1, Bytes: 3000, Sha256: sha256Sum(data)})
	for name, h := range map[string]*hostile.Held{"without UploadStart": noStart, "idle after UploadStart": idle} {
		ended, err := h.Wait(20 * time.Second)
		if !ended || statusCode(err) != "DeadlineExceeded" {
			t.Errorf("a stream %s: ended %v with %v, want DeadlineExceeded", name, ended, err)
		}
	}
	if d := time.Since(t0); d < 2*time.Second || d > 15*time.Second {
		t.Errorf("idle streams closed after %v, want about 2s", d)
	}
	waitFor(ctx, t, "every upload slot free", func() bool { return num(s.c.metric("fleetprof_collector_ingest_streams")) == 0 })
	for _, r := range []string{"agent_busy", "no_start", "idle"} {
		if n := num(s.c.metric(`fleetprof_collector_ingest_rejected_total{reason="` + r + `"}`)); n == 0 {
			t.Errorf("ingest_rejected_total{reason=%s} = 0", r)
		}
	}
	if log := s.c.p.out.String(); !strings.Contains(log, "upload refused") || !strings.Contains(log, "reason=agent_busy") {
		t.Errorf("the collector's log has no refused-upload line:\n%s", logtest.Tail(log, 20))
	}
}

// TestHostileEmptyChunks is issue 13's finding 9: empty chunks are
// acknowledged without being written, a few per stream; one more ends the
// stream with InvalidArgument.
func TestHostileEmptyChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	s := startSecure(ctx, t, "", []string{"mallory"})
	cc := s.dial(t, "mallory")
	data := make([]byte, 3000)
	start := &agentv1.UploadStart{CaptureId: "mallory-empty", AgentId: "mallory", Chunks: 1, Bytes: 3000, Sha256: sha256Sum(data)}
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t0 := time.Now()
	acked, err := hostile.EmptyChunks(sctx, cc, start, 1000)
	if acked != 4 || statusCode(err) != "InvalidArgument" {
		t.Errorf("1000 empty chunks: %d acknowledged, then %v; want 4, then InvalidArgument", acked, err)
	}
	t.Logf("refused after %v", time.Since(t0))
	if n := num(s.c.metric(`fleetprof_collector_ingest_rejected_total{reason="empty_chunks"}`)); n != 1 {
		t.Errorf("ingest_rejected_total{reason=empty_chunks} = %v, want 1", n)
	}
	if n := num(s.c.metric("fleetprof_collector_ingest_bytes_total")); n != 0 {
		t.Errorf("ingest_bytes_total = %v after empty chunks only", n)
	}
}

// TestHostileDiskFull is issue 13's finding 11: the collector's store hits
// a file size limit (RLIMIT_FSIZE, as a full disk would) while staging an
// upload; the agent is told ResourceExhausted with the reason, not
// "Internal: internal error", and the operator's log says so.
func TestHostileDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	// The collector's files may not grow past 8 MiB (dash counts 512-byte
	// blocks; a shell counting KiB allows 16 MiB, still under the upload).
	wrapper := filepath.Join(bins, "fleetprof-collector-fsize")
	script := "#!/bin/sh\nulimit -f 16384 || exit 1\nexec \"$(dirname \"$0\")/fleetprof-collector\" \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startSecure(ctx, t, "fleetprof-collector-fsize", []string{"mallory"})
	cc := s.dial(t, "mallory")
	data := make([]byte, 24<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	err := hostile.Upload{CaptureID: "big-1", AgentID: "mallory", Data: data, SHA256: sha256Sum(data)}.Send(ctx, cc)
	if statusCode(err) != "ResourceExhausted" || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("upload into a full store: %v, want ResourceExhausted naming \"file too large\"", err)
	}
	if strings.Contains(err.Error(), s.c.data) {
		t.Errorf("the status names the collector's files: %v", err)
	}
	// The log line may reach the process's output a moment after the
	// status reached the agent.
	logged := func() bool { return strings.Contains(s.c.p.out.String(), "collector storage exhausted") }
	for end := time.Now().Add(10 * time.Second); !logged() && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("the collector's log does not say its storage is exhausted:\n%s", logtest.Tail(s.c.p.out.String(), 20))
	}
	if n := num(s.c.metric(`fleetprof_collector_ingest_rejected_total{reason="storage"}`)); n != 1 {
		t.Errorf("ingest_rejected_total{reason=storage} = %v, want 1", n)
	}
}

// TestHostileRejectedCapture is issue 13's finding 5 through a real agent:
// a spooled capture whose file no longer matches its sha256 sits at the
// head of the spool, and the collector refuses the next one as too large.
// Both move to the spool's rejected/ folder with their reasons, are
// counted, and the fleet capture's result for the agent says why; after
// the collector is restarted with room for it, the agent's next capture
// uploads.
func TestHostileRejectedCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 4*time.Minute)
	s := startSecure(ctx, t, "", []string{"vm-r"}, "--max-capture-bytes", "2000")
	a := s.agent(ctx, t, "vm-r", "pool=r", func(work string) {
		// A capture spooled long ago whose file changed on disk since.
		dir := filepath.Join(work, "spool")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("x"), 1500)
		meta := fmt.Sprintf(`{"capture_id":"old-1","agent_id":"vm-r","created":"2020-01-01T00:00:00Z","bytes":1500,"sha256":%q,"chunks":1}`,
			sha256Hex(bytes.Repeat([]byte("y"), 1500)))
		if err := os.WriteFile(filepath.Join(dir, "old-1.fpcap"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "old-1.json"), []byte(meta), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	rejected := filepath.Join(a.work, "spool", "rejected")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	waitFor(wctx, t, "old-1 rejected", func() bool {
		_, err := os.Stat(filepath.Join(rejected, "old-1.reason"))
		return err == nil
	})
	out := <-s.captureCmd(ctx, t, "pool=r", "--deadline", "60s")
	res := out.result(t)
	result, msg := res.part("vm-r")
	if result != "failed" || !strings.Contains(msg, "upload rejected") || !strings.Contains(msg, "too large") {
		t.Errorf("vm-r's part: %s %q, want failed saying the upload was rejected as too large", result, msg)
	}
	cid := res.Agents[0].CaptureID
	for _, f := range []string{"old-1.fpcap", "old-1.json", cid + ".fpcap", cid + ".json", cid + ".reason"} {
		if _, err := os.Stat(filepath.Join(rejected, f)); err != nil {
			t.Errorf("rejected/%s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rejected, "old-1.reason")); !strings.Contains(string(b), "sha256") {
		t.Errorf("old-1's reason %q does not name the sha256 mismatch", b)
	}
	for label, want := range map[string]float64{"corrupt": 1, "invalid_argument": 1} {
		if n := num(transporttest.Metric(a.metrics, `fleetprof_agent_uploads_rejected_total{reason="`+label+`"}`)); n != want {
			t.Errorf("agent's uploads_rejected_total{reason=%s} = %v, want %v", label, n, want)
		}
	}
	// The collector takes captures of any size again: the next one uploads.
	s.c.kill9()
	s.flags = nil
	s.start(ctx, t)
	s.waitHealthy(ctx, t, "vm-r")
	out = <-s.captureCmd(ctx, t, "pool=r", "--deadline", "60s")
	if result, msg := out.result(t).part("vm-r"); result != "done" {
		t.Errorf("vm-r's next capture: %s %q, want done", result, msg)
	}
}
