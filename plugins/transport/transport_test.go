package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:80", true},
		{"127.3.2.1:80", true},
		{"[::1]:9", true},
		{"localhost:8080", true},
		{"localhost", true},
		{"::1", true},
		{"127.0.0.1", true},
		{"10.0.0.1:80", false},
		{"[::]:80", false},
		{":8080", false},
		{"0.0.0.0:80", false},
		{"example.com:443", false},
		{"localhost.example.com:443", false},
		{"", false},
	} {
		if got := Loopback(tc.addr); got != tc.want {
			t.Errorf("Loopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// writePair writes a self-signed certificate and its key; it returns the
// certificate's path, which is also a CA file.
func writePair(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	c, err := ClientTLS(TLSFiles{Cert: cert, Key: key, CA: cert}, "collector")
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS13 || c.ServerName != "collector" || c.RootCAs == nil || len(c.Certificates) != 1 {
		t.Errorf("ClientTLS = min %x, server %q, roots %v, %d certs", c.MinVersion, c.ServerName, c.RootCAs != nil, len(c.Certificates))
	}
	s, err := ServerTLS(TLSFiles{Cert: cert, Key: key, CA: cert}, tls.RequireAndVerifyClientCert)
	if err != nil {
		t.Fatal(err)
	}
	if s.MinVersion != tls.VersionTLS13 || s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil {
		t.Errorf("ServerTLS = min %x, auth %v, CAs %v", s.MinVersion, s.ClientAuth, s.ClientCAs != nil)
	}
	s, err = ServerTLS(TLSFiles{Cert: cert, Key: key}, tls.RequireAndVerifyClientCert)
	if err != nil || s.ClientAuth != tls.NoClientCert {
		t.Errorf("ServerTLS without a CA: auth %v, err %v; want no client certificate", s.ClientAuth, err)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := ClientTLS(TLSFiles{CA: bad}, ""); !errors.Is(err, ErrNoPEM) {
		t.Errorf("ClientTLS(bad CA) = %v, want ErrNoPEM", err)
	}
	if _, err := ServerTLS(TLSFiles{Cert: bad, Key: key}, tls.NoClientCert); err == nil {
		t.Error("ServerTLS(bad cert) = nil error")
	}
}
