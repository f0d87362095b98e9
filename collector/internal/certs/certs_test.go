package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestInitIssueVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := Init(dir, false, now)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.Cert.PublicKey)
	}
	if got := ca.Cert.NotAfter.Sub(now); got != CAValidity {
		t.Errorf("CA valid for %v, want %v", got, CAValidity)
	}
	for _, f := range []string{CAKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, st.Mode().Perm(), err)
		}
	}
	if _, err := Init(dir, false, now); !errors.Is(err, ErrExists) {
		t.Errorf("Init over a CA = %v, want ErrExists", err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(loaded.Cert)

	for _, tt := range []struct {
		req   Request
		usage x509.ExtKeyUsage
		want  ids.Identity
	}{
		{Request{Name: "tpu-1", Kind: ids.Agent}, x509.ExtKeyUsageClientAuth, ids.Identity{Kind: ids.Agent, Name: "tpu-1"}},
		{Request{Name: "a2", Kind: ids.Agent, AgentID: "host-7.zone"}, x509.ExtKeyUsageClientAuth, ids.Identity{Kind: ids.Agent, Name: "host-7.zone"}},
		{Request{Name: "collector", Kind: ids.Collector, Hosts: []string{"collector.internal", "10.0.0.5"}}, x509.ExtKeyUsageServerAuth, ids.Identity{Kind: ids.Collector, Name: "collector"}},
		{Request{Name: "alice", Kind: ids.Client, Role: "operator"}, x509.ExtKeyUsageClientAuth, ids.Identity{Kind: ids.Client, Name: "alice", Role: "operator"}},
		{Request{Name: "bob", Kind: ids.Client}, x509.ExtKeyUsageClientAuth, ids.Identity{Kind: ids.Client, Name: "bob", Role: "viewer"}},
	} {
		t.Run(tt.req.Name, func(t *testing.T) {
			is, err := loaded.Issue(tt.req, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := is.Cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if got, err := ids.IdentityOf(is.Cert); err != nil || got != tt.want {
				t.Errorf("IdentityOf = %+v, %v, want %+v", got, err, tt.want)
			}
			if _, err := tls.LoadX509KeyPair(is.CertFile, is.KeyFile); err != nil {
				t.Errorf("LoadX509KeyPair: %v", err)
			}
			if st, _ := os.Stat(is.KeyFile); st.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v, want 0600", st.Mode().Perm())
			}
			if !is.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
				t.Errorf("NotAfter %v, want capped at the CA's %v", is.Cert.NotAfter, ca.Cert.NotAfter)
			}
			if _, err := loaded.Issue(tt.req, now); !errors.Is(err, ErrExists) {
				t.Errorf("Issue again = %v, want ErrExists", err)
			}
		})
	}
	col, _ := x509.ParseCertificate(mustRead(t, filepath.Join(dir, "collector.pem")))
	if err := col.VerifyHostname("collector.internal"); err != nil {
		t.Errorf("VerifyHostname: %v", err)
	}
	if err := col.VerifyHostname("10.0.0.5"); err != nil {
		t.Errorf("VerifyHostname(ip): %v", err)
	}
	if err := col.VerifyHostname("evil.example"); err == nil {
		t.Error("VerifyHostname(evil.example) = nil")
	}

	// A certificate from another CA does not verify against this one.
	other, err := Init(t.TempDir(), false, now)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(Request{Name: "tpu-1", Kind: ids.Agent}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := foreign.Cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a certificate of another CA verified")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: not PEM", path)
	}
	return blk.Bytes
}

func TestIssueErrors(t *testing.T) {
	ca, err := Init(t.TempDir(), false, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []Request{
		{Name: "", Kind: ids.Agent},
		{Name: "../x", Kind: ids.Agent},
		{Name: "a/b", Kind: ids.Client},
		{Name: "ca", Kind: ids.Client},
		{Name: "x", Kind: "root"},
		{Name: "x", Kind: ids.Agent, AgentID: "../../etc/passwd"},
		{Name: "x", Kind: ids.Agent, Hosts: []string{"h"}},
		{Name: "x", Kind: ids.Client, Role: "root"},
		{Name: "x", Kind: ids.Collector, Hosts: []string{"http://x/"}},
		{Name: "x", Kind: ids.Collector, Role: "admin"},
	} {
		if _, err := ca.Issue(req, now); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Issue(%+v) = %v, want ErrBadRequest", req, err)
		}
	}
	// An agent id the certificate path would refuse is never issued.
	for _, id := range []string{"tpu 1", "-flag", "a..b", "tpu-é", "a\x01b"} {
		if _, err := ca.Issue(Request{Name: "x", Kind: ids.Agent, AgentID: id}, now); !errors.Is(err, ErrBadRequest) || !errors.Is(err, ids.ErrBadAgent) {
			t.Errorf("Issue(agent id %q) = %v, want ErrBadRequest and ids.ErrBadAgent", id, err)
		}
	}
	if _, err := ca.Issue(Request{Name: "late", Kind: ids.Agent}, now.Add(2*CAValidity)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Issue after the CA expired = %v, want ErrBadRequest", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoCA) {
		t.Errorf("Load(empty) = %v, want ErrNoCA", err)
	}
}

// TestHandshake runs a real mutual TLS handshake on loopback with the
// issued certificates: the server sees the agent's identity.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	ca, err := Init(dir, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(Request{Name: "collector", Kind: ids.Collector}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ag, err := ca.Issue(Request{Name: "tpu-9", Kind: ids.Agent}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	sc, _ := tls.LoadX509KeyPair(srv.CertFile, srv.KeyFile)
	cc, _ := tls.LoadX509KeyPair(ag.CertFile, ag.KeyFile)
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{sc}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	got := make(chan ids.Identity, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			got <- ids.Identity{}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			got <- ids.Identity{}
			return
		}
		id, _ := ids.IdentityOf(tc.ConnectionState().VerifiedChains[0][0])
		got <- id
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", lis.Addr().String(), &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cc}, ServerName: "localhost", MinVersion: tls.VersionTLS13,
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if id := <-got; id != (ids.Identity{Kind: ids.Agent, Name: "tpu-9"}) {
		t.Errorf("server saw %+v, want agent tpu-9", id)
	}
}
