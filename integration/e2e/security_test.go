package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// runBin runs one of the built binaries to completion, bounded by ctx.
func runBin(ctx context.Context, t testing.TB, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(bins, name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	return out.String(), errb.String(), code
}

// mustRunBin is runBin failing the test unless the binary exits 0; it
// returns the binary's stdout.
func mustRunBin(ctx context.Context, t testing.TB, name string, args ...string) string {
	t.Helper()
	out, errOut, code := runBin(ctx, t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestSecureFleet runs the real binaries with mTLS and tokens on loopback:
// certificates from `fleetprof certs`, the first admin token from
// `fleetprof-collector token create`, agents on --listen (certificates
// required in the handshake), people on --api-listen (tokens). An agent
// with its certificate registers and uploads a capture; an agent claiming
// another id, or with a certificate from another CA, never gets in.
func TestSecureFleet(t *testing.T) {
	ctx := deadline(t, 3*time.Minute)
	pki, other, data := t.TempDir(), t.TempDir(), t.TempDir()
	must := func(name string, args ...string) string { t.Helper(); return mustRunBin(ctx, t, name, args...) }
	must("fleetprof", "certs", "init", "--dir", pki)
	must("fleetprof", "certs", "issue", "--dir", pki, "--name", "collector", "--kind", "collector", "--host", "127.0.0.1,localhost")
	must("fleetprof", "certs", "issue", "--dir", pki, "--name", "sec-a", "--kind", "agent")
	must("fleetprof", "certs", "init", "--dir", other)
	must("fleetprof", "certs", "issue", "--dir", other, "--name", "sec-a", "--kind", "agent")
	token := strings.SplitN(must("fleetprof-collector", "token", "create", "--data", data, "--role", "admin", "--name", "e2e"), "\n", 2)[0]
	if !strings.HasPrefix(token, "fpt_") {
		t.Fatalf("token create printed %q", token)
	}

	c := &collector{t: t, data: data}
	file := addrFile(t)
	c.p = startProc(t, "fleetprof-collector", "--data", data, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--addr-file", file, "--tls-cert", filepath.Join(pki, "collector.pem"), "--tls-key", filepath.Join(pki, "collector-key.pem"),
		"--tls-client-ca", filepath.Join(pki, "ca.pem"), "--heartbeat", "200ms",
		"--plugins", filepath.Join(bins, "plugins"), "--shutdown-timeout", "2s", "--snapshot-interval", "0")
	addrs := transporttest.WaitAddrs(t, file, c.p.done)
	agentsAddr := addrs["grpc"]
	c.addr, c.http = addrs["api"], addrs["http"]
	tlsArgs := []string{"--tls-ca", filepath.Join(pki, "ca.pem"), "--token", token}
	connected := func() map[string]bool {
		out, _, code := cli(ctx, t, c, append([]string{"agents", "--all", "--format", "json"}, tlsArgs...)...)
		got := map[string]bool{}
		var list []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			return got
		}
		for _, a := range list {
			if a["connected"] == true && a["server_healthy"] == true {
				got[a["agent_id"].(string)] = true
			}
		}
		return got
	}
	waitFor(ctx, t, "the collector's API", func() bool {
		_, _, code := cli(ctx, t, c, append([]string{"agents"}, tlsArgs...)...)
		return code == 0
	})
	if _, errOut, code := cli(ctx, t, c, "agents", "--tls-ca", filepath.Join(pki, "ca.pem")); code != 1 || !strings.Contains(errOut, "unauthenticated") {
		t.Errorf("agents without a token: exit %d: %s", code, errOut)
	}

	startAgent := func(certDir string, extra ...string) *agent {
		// The agent is told the wrapped server's URL before it starts it:
		// the port is picked here, not by the server.
		a := &agent{id: "sec-a", port: transporttest.FreePort(t), work: t.TempDir()}
		a.args = append([]string{"--collector", agentsAddr, "--tls-cert", filepath.Join(certDir, "sec-a.pem"),
			"--tls-key", filepath.Join(certDir, "sec-a-key.pem"), "--tls-ca", filepath.Join(pki, "ca.pem"),
			"--http", "127.0.0.1:0", "--work-dir", a.work,
			"--attach", fmt.Sprintf("http://127.0.0.1:%d", a.port), "--restart-backoff", "100ms", "--grace", "2s",
			"--health-timeout", "30s", "--label", "suite=security"}, extra...)
		a.args = append(a.args, "--wrap", "--", filepath.Join(bins, "fleetprof-simserver"), "--port", fmt.Sprint(a.port), "--hostname", "sec-a")
		a.run(t)
		return a
	}
	// Claiming another id with this certificate: refused at start.
	impostor := startAgent(pki, "--id", "sec-b")
	if !impostor.p.wait(30 * time.Second) {
		t.Error("an agent with --id sec-b and sec-a's certificate kept running")
	} else if code := impostor.p.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(impostor.p.out.String(), `is agent \"sec-a\"`) {
		t.Errorf("impostor exit %d:\n%s", code, logtest.Tail(impostor.p.out.String(), 5))
	}
	// A certificate from another CA: the handshake fails, it never registers.
	foreign := startAgent(other)
	waitFor(ctx, t, "the foreign agent's handshake failure", func() bool {
		return strings.Contains(foreign.p.out.String(), "certificate")
	})
	if connected()["sec-a"] {
		t.Fatal("an agent with a certificate from another CA is connected")
	}
	foreign.p.kill()
	foreign.p.wait(10 * time.Second)
	killStray(foreign.port)

	// The agent with its certificate (its id comes from it) registers and
	// uploads.
	startAgent(pki)
	waitFor(ctx, t, "sec-a connected over mTLS", func() bool { return connected()["sec-a"] })
	_, ids := startCapture(ctx, t, c, "suite=security", tlsArgs...)
	id := ids["sec-a"]
	if id == "" {
		t.Fatalf("the fleet capture did not ask sec-a: %v", ids)
	}
	var got listedCapture
	waitFor(ctx, t, "capture "+id+" committed", func() bool {
		for _, l := range listCaptures(ctx, t, c, tlsArgs...) {
			if l.ID == id {
				got = l
				return true
			}
		}
		return false
	})
	if got.AgentID != "sec-a" || got.Size == 0 {
		t.Errorf("capture %+v, want sec-a's with bytes", got)
	}
}
