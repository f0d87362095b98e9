package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/server"
	"github.com/fleetprof/fleetprof/collector/internal/server/servertest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// TestCertsAndTokens makes a CA and certificates with `fleetprof certs`,
// bootstraps an admin token on the data folder, runs a collector with TLS
// on loopback and manages tokens with `fleetprof token`.
func TestCertsAndTokens(t *testing.T) {
	ctx := context.Background()
	pki, data := t.TempDir(), t.TempDir()
	mustRun(t, "certs", "init", "--dir", pki)
	mustRun(t, "certs", "issue", "--dir", pki, "--name", "collector", "--kind", "collector", "--host", "localhost,127.0.0.1")
	out := mustRun(t, "certs", "issue", "--dir", pki, "--name", "tpu-1", "--kind", "agent")
	if !strings.Contains(out, "spiffe://fleetprof/agent/tpu-1") {
		t.Errorf("issue agent printed %q", out)
	}
	mustRun(t, "certs", "issue", "--dir", pki, "--name", "ops", "--kind", "client", "--role", "operator")
	if _, errOut, code := fleetprof(t, "certs", "issue", "--dir", pki, "--name", "x", "--kind", "agent", "--agent-id", "../../etc/passwd"); code != 2 {
		t.Errorf("issue with a hostile agent id: exit %d: %s", code, errOut)
	}
	if _, _, code := fleetprof(t, "certs", "init", "--dir", pki); code != 1 {
		t.Errorf("init over a CA: exit %d, want 1", code)
	}
	if st, err := os.Stat(filepath.Join(pki, "ca-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ca-key.pem mode %v (%v), want 0600", st.Mode().Perm(), err)
	}

	// The first admin token, on the data folder before the collector starts.
	db, err := store.Open(filepath.Join(data, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.Create(ctx, db, "bootstrap", auth.Admin)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := servertest.Start(t, server.Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: data, NoSync: true,
		TLSCert: filepath.Join(pki, "collector.pem"), TLSKey: filepath.Join(pki, "collector-key.pem"),
		TLSClientCA: filepath.Join(pki, "ca.pem"), ShutdownTimeout: 2 * time.Second,
	})
	port := srv.Addr()[strings.LastIndexByte(srv.Addr(), ':'):]
	tlsFlags := []string{"--collector", "localhost" + port, "--tls-ca", filepath.Join(pki, "ca.pem")}
	with := func(token string, args ...string) []string {
		return append(append(append([]string{}, args...), tlsFlags...), "--token", token)
	}

	out = mustRun(t, with(admin.Token, "token", "create", "--role", "viewer", "--name", "grafana")...)
	viewer := strings.TrimSpace(out)
	if !regexp.MustCompile(`^fpt_[A-Za-z0-9_-]{43}$`).MatchString(viewer) {
		t.Fatalf("token create printed %q", out)
	}
	out = mustRun(t, with(admin.Token, "token", "list")...)
	if !strings.Contains(out, "grafana") || !strings.Contains(out, "bootstrap") || strings.Contains(out, "fpt_") {
		t.Errorf("token list:\n%s", out)
	}
	mustRun(t, with(viewer, "agents")...)
	if _, errOut, code := fleetprof(t, with(viewer, "token", "list")...); code != 1 || !strings.Contains(errOut, "permission") {
		t.Errorf("viewer token list: exit %d: %s", code, errOut)
	}
	id := regexp.MustCompile(`t-[0-9a-f]{12}`).FindString(mustRun(t, with(admin.Token, "token", "list")...))
	ids := regexp.MustCompile(`t-[0-9a-f]{12}\s+grafana`).FindString(mustRun(t, with(admin.Token, "token", "list")...))
	if id == "" || ids == "" {
		t.Fatal("no token ids listed")
	}
	mustRun(t, with(admin.Token, "token", "revoke", strings.Fields(ids)[0])...)
	if _, errOut, code := fleetprof(t, with(viewer, "agents")...); code != 1 || !strings.Contains(errOut, "unauthenticated") {
		t.Errorf("revoked token: exit %d: %s", code, errOut)
	}
	// No token: refused; an operator client certificate: allowed.
	if _, errOut, code := fleetprof(t, append([]string{"agents"}, tlsFlags...)...); code != 1 || !strings.Contains(errOut, "unauthenticated") {
		t.Errorf("no token: exit %d: %s", code, errOut)
	}
	mustRun(t, append([]string{"agents", "--tls-cert", filepath.Join(pki, "ops.pem"), "--tls-key", filepath.Join(pki, "ops-key.pem")}, tlsFlags...)...)
	// A name the certificate does not hold: the handshake fails.
	if _, errOut, code := fleetprof(t, "agents", "--collector", srv.Addr(), "--tls-ca", filepath.Join(pki, "ca.pem"), "--tls-server-name", "evil.example", "--token", admin.Token); code != 1 {
		t.Errorf("wrong server name: exit %d: %s", code, errOut)
	}
}
