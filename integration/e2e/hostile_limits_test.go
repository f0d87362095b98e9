package e2e

// Issue 13's adversarial findings 2, 3, 6, 7, 8 and 10, kept as tests
// through the real fleetprof-collector and fleetprof CLI: a costly capture,
// a bucket that never answers, a damaged database, text that drives a
// terminal, unbounded labels and a DNS-rebinding Host header.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetprof/fleetprof/integration/bolttest"
	"github.com/fleetprof/fleetprof/integration/internal/hostile"
	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// dialInsecure connects to a collector in loopback development mode.
func dialInsecure(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// rawTerminal reports the first character of s a terminal would obey.
func rawTerminal(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return r, true
		}
	}
	return 0, false
}

// TestHostileCostlyCapture is finding 2: a 16 MB .fpcap of empty events
// took the collector to 4.3 GB, and every resume of its staged part did it
// again. With an agent certificate, the same upload is now refused as it
// streams in, naming the bound; the collector's peak RSS stays flat, and a
// second attempt starts over and is refused the same way.
func TestHostileCostlyCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	s := startSecure(ctx, t, "", []string{"evil"})
	pid := s.c.p.cmd.Process.Pid
	before, err := hostile.PeakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	data, sum := hostile.EmptyEvents(16 << 20)
	u := hostile.Upload{CaptureID: "evil-costly", AgentID: "evil", Data: data, SHA256: sum}
	cc := s.dial(t, "evil")
	for attempt := 1; attempt <= 2; attempt++ {
		t0 := time.Now()
		err := u.Send(ctx, cc)
		if statusCode(err) != "InvalidArgument" || !strings.Contains(err.Error(), "expansion=") || !strings.Contains(err.Error(), "dropped") {
			t.Fatalf("attempt %d: upload of 16 MB of empty events = %v, want InvalidArgument naming the expansion bound", attempt, err)
		}
		t.Logf("attempt %d refused in %s: %v", attempt, time.Since(t0).Round(time.Millisecond), err)
	}
	after, err := hostile.PeakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collector peak RSS: %d MiB before the uploads, %d MiB after", before>>20, after>>20)
	if after-before > 128<<20 {
		t.Errorf("the refused uploads raised the collector's peak RSS by %d MiB, want under 128", (after-before)>>20)
	}
	if l := listCaptures(ctx, t, s.c, s.tls...); len(l) != 0 {
		t.Errorf("the refused capture is listed: %+v", l)
	}
	if v := transporttest.Metric("http://"+s.c.http+"/metrics", `fleetprof_collector_ingest_rejected_total{reason="too_large"}`); v != "2" {
		t.Errorf("rejected{reason=too_large} = %q, want 2", v)
	}
}

// TestHostileLabelsAndTerminalText is findings 7 and 8: an agent
// registering 250,000 labels is refused, naming the bound; an agent whose
// host name, labels, capture context and op names hold escape sequences is
// shown escaped by every command of the real CLI.
func TestHostileLabelsAndTerminalText(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	s := startSecure(ctx, t, "", []string{"evil"})
	cc := s.dial(t, "evil")
	many := map[string]string{}
	for i := range 250_000 {
		many[fmt.Sprintf("k%06d", i)] = "v"
	}
	_, err := hostile.Register(ctx, cc, &agentv1.Register{AgentId: "evil", Host: "evil", Labels: many})
	if statusCode(err) != "InvalidArgument" || !strings.Contains(err.Error(), "250000 labels, at most 64") {
		t.Fatalf("Register with 250,000 labels = %v, want InvalidArgument naming the bound", err)
	}
	ctl, err := hostile.Register(ctx, cc, &agentv1.Register{AgentId: "evil", Host: hostile.TerminalText,
		Labels: map[string]string{"zone": hostile.TerminalText}, AgentVersion: hostile.TerminalText})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	data, sum, err := hostile.Capture(hostile.TerminalText)
	if err != nil {
		t.Fatal(err)
	}
	if err := (hostile.Upload{CaptureID: "evil-1", AgentID: "evil", Data: data, SHA256: sum}).Send(ctx, cc); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "evil-1 analyzed", func() bool { return s.captured(ctx, t, "evil-1").Status != "committed" })
	out := mustCLI(ctx, t, s.c, append([]string{"agents", "--format", "json"}, s.tls...)...)
	if len(out) > 4<<10 {
		t.Errorf("agents --format json is %d bytes with one agent", len(out))
	}
	for _, args := range [][]string{
		{"agents"}, {"agents", "--format", "json"}, {"captures"}, {"captures", "--format", "json"},
		{"summary", "evil-1"}, {"report", "evil-1", "--format", "md"}, {"report", "evil-1", "--format", "json"},
	} {
		out, errOut, code := cli(ctx, t, s.c, append(args, s.tls...)...)
		if code != 0 {
			t.Errorf("fleetprof %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		if r, bad := rawTerminal(out + errOut); bad {
			t.Errorf("fleetprof %s printed a raw %U:\n%q", strings.Join(args, " "), r, out)
		}
	}
	if out := mustCLI(ctx, t, s.c, append([]string{"agents"}, s.tls...)...); !strings.Contains(out, `evil\u001b[2J`) || strings.Contains(out, "\nforged-row") {
		t.Errorf("agents does not show the host escaped on one row:\n%s", out)
	}
}

// TestHostileHostHeader is finding 10: in development mode the web UI
// answered any Host, the way a DNS-rebinding page reaches it.
func TestHostileHostHeader(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, time.Minute)
	c := newCollector(ctx, t, "")
	_, port, _ := strings.Cut(c.http, ":")
	for host, want := range map[string]int{
		"127.0.0.1:" + port: http.StatusOK, "localhost:" + port: http.StatusOK,
		"rebind.example:" + port: http.StatusMisdirectedRequest, "127.0.0.1.nip.io:" + port: http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+c.http+"/schedules", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /schedules with Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestHostileDamagedStore is finding 6: a truncated database started
// serving and panicked on its first read; a 0-byte one started empty
// although GCS held its snapshot. The real collector now refuses both,
// saying what to run; `check` finds the damage; restore brings it back.
func TestHostileDamagedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 3*time.Minute)
	_, gcsAddr := startGCSEmu(t, "127.0.0.1:0", "--bucket", "fp", "--root", t.TempDir())
	gcsFlags := []string{"--gcs-bucket", "fp", "--gcs-prefix", "p", "--gcs-endpoint", "http://" + gcsAddr}
	c := newCollector(ctx, t, "", append(gcsFlags, "--snapshot-interval", "500ms")...)
	cc := dialInsecure(t, c.addr)
	for i := range 4 {
		data, sum := hostile.EmptyEvents(0) // the smallest well-formed capture: no events
		if err := (hostile.Upload{CaptureID: fmt.Sprintf("d-%d", i), AgentID: "vm-d", Data: data, SHA256: sum}).Send(ctx, cc); err != nil {
			t.Fatal(err)
		}
	}
	snapshots := func() float64 {
		return num(transporttest.Metric("http://"+c.http+"/metrics", `fleetprof_collector_snapshots_total{result="done"}`))
	}
	after := snapshots()
	waitFor(ctx, t, "a snapshot with the 4 captures", func() bool { return snapshots() >= after+2 })
	c.kill9()
	db := filepath.Join(c.data, "fleetprof.db")
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, want ...string) {
		t.Helper()
		p := startProc(t, "fleetprof-collector", append([]string{"--data", c.data, "--insecure", "--listen", c.addr, "--http", c.http,
			"--plugins", c.plugins}, gcsFlags...)...)
		if !p.wait(30 * time.Second) {
			t.Fatalf("the collector serves a %s database", what)
		}
		out := p.out.String()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("the collector refused a %s database without saying %q:\n%s", what, w, logtest.Tail(out, 10))
			}
		}
	}
	// Half of the pages in use (the file is longer: bbolt grows it in
	// steps, and a cut in that tail loses nothing).
	if err := os.WriteFile(db, b[:bolttest.UsedBytes(t, db)/2/4096*4096], 0o600); err != nil {
		t.Fatal(err)
	}
	refused("truncated", "truncated", "fleetprof-collector restore --gcs-bucket fp --gcs-prefix p")
	if _, errOut, code := runBin(ctx, t, "fleetprof-collector", "check", "--data", c.data); code != 1 || !strings.Contains(errOut, "truncated") {
		t.Errorf("check of the truncated database: exit %d\n%s", code, errOut)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused("0-byte", "empty (0 bytes)", "the snapshot p/snapshots/", "--new-store")
	out, errOut, code := runBin(ctx, t, "fleetprof-collector", append([]string{"restore", "--data", c.data, "--force"}, gcsFlags...)...)
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	c.extra = gcsFlags
	c.start(ctx)
	if l := listCaptures(ctx, t, c); len(l) != 4 {
		t.Errorf("after the restore the collector lists %d captures, want 4", len(l))
	}
}

// TestHostileBucketHangs is finding 3: with a GCS endpoint that took
// requests and never answered, /healthz, listings and uploads all hung.
// With the real collector pointed at such an endpoint (on loopback),
// /healthz answers at once and says which backup call waits, and captures
// are taken in and listed.
func TestHostileBucketHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	c := newCollector(ctx, t, "", "--gcs-bucket", "fp", "--gcs-endpoint", hang.URL, "--gcs-timeout", "10m",
		"--snapshot-interval", "300ms", "--new-store")
	health := func() (int, string, time.Duration) {
		t0 := time.Now()
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(hctx, "GET", "http://"+c.http+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error(), time.Since(t0)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), time.Since(t0)
	}
	waitFor(ctx, t, "the backup waiting on the bucket", func() bool {
		_, body, _ := health()
		return strings.Contains(body, "backup: waiting")
	})
	cc := dialInsecure(t, c.addr)
	for i := range 3 {
		data, sum, err := hostile.Capture("vm-h")
		if err != nil {
			t.Fatal(err)
		}
		if err := (hostile.Upload{CaptureID: fmt.Sprintf("h-%d", i), AgentID: "vm-h", Data: data, SHA256: sum}).Send(ctx, cc); err != nil {
			t.Fatalf("upload while the bucket hangs: %v", err)
		}
	}
	if l := listCaptures(ctx, t, c); len(l) != 3 {
		t.Errorf("%d captures listed while the bucket hangs, want 3", len(l))
	}
	code, body, took := health()
	if code != http.StatusOK || took > 3*time.Second || !strings.Contains(body, "upload gs://fp/") {
		t.Errorf("/healthz while the bucket hangs: %d in %s: %q", code, took, body)
	}
	t.Logf("/healthz in %s:\n%s", took.Round(time.Millisecond), body)
}
