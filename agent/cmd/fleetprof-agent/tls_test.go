package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/uplink"
	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

type pki struct {
	dir        string
	caPool     *x509.CertPool
	serverCert tls.Certificate
}

// newPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into a temp dir.
func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetprof test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, usage x509.ExtKeyUsage, serial int64) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	sc, sk := issue("collector", x509.ExtKeyUsageServerAuth, 2)
	cc, ck := issue("agent-1", x509.ExtKeyUsageClientAuth, 3)
	bc, bk := issue("agent 1", x509.ExtKeyUsageClientAuth, 4) // a common name that is no agent id
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write("agent.pem", cc)
	write("agent-key.pem", ck)
	write("bad-agent.pem", bc)
	write("bad-agent-key.pem", bk)
	serverCert, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{dir: dir, caPool: pool, serverCert: serverCert}
}

type nopHandler struct{}

func (nopHandler) Capture(*agentv1.CaptureCommand) {}
func (nopHandler) Cancel(string)                   {}

func TestClientTLS(t *testing.T) {
	p := newPKI(t)
	fc := uplinktest.Start(t, uplinktest.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert,
	}})
	tests := []struct {
		name     string
		cfg      Config
		wantErr  string
		wantConn bool
	}{
		{"mtls", Config{TLSCA: filepath.Join(p.dir, "ca.pem"), TLSCert: filepath.Join(p.dir, "agent.pem"),
			TLSKey: filepath.Join(p.dir, "agent-key.pem")}, "", true},
		{"no client cert", Config{TLSCA: filepath.Join(p.dir, "ca.pem")}, "", false},
		{"insecure", Config{Insecure: true}, "", false},
		{"missing ca", Config{TLSCA: filepath.Join(p.dir, "nope.pem")}, "--tls-ca", false},
		{"not pem", Config{TLSCA: filepath.Join(p.dir, "agent-key.pem")}, "no PEM certificate", false},
		{"bad pair", Config{TLSCert: filepath.Join(p.dir, "ca.pem"), TLSKey: filepath.Join(p.dir, "agent-key.pem")}, "--tls-cert", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := clientTLS(&tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("clientTLS = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sp, err := spool.Open(t.TempDir(), spool.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sp.Put(spool.Meta{CaptureID: "c-" + strings.ReplaceAll(tt.name, " ", "-")}, func(w io.Writer) error {
				_, err := w.Write([]byte("capture bytes"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			before := len(fc.Registers())
			up, err := uplink.New(uplink.Options{Addr: fc.Addr, TLS: tc, AgentID: "agent-1", Spool: sp, Handler: nopHandler{},
				MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- up.Run(ctx) }()
			got := fc.Wait(map[bool]time.Duration{true: 10 * time.Second, false: 500 * time.Millisecond}[tt.wantConn],
				func() bool { return len(fc.Registers()) > before && len(sp.List()) == 0 })
			cancel()
			<-done
			if got != tt.wantConn {
				t.Errorf("registered and uploaded = %v, want %v", got, tt.wantConn)
			}
		})
	}
}
