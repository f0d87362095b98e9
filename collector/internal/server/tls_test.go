package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// pki is a test CA with a server and a client certificate.
type pki struct {
	dir    string
	pool   *x509.CertPool
	client tls.Certificate
}

func newPKI(t *testing.T, clientCN string) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := issue("collector", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	write("server.pem", sc)
	write("server-key.pem", sk)
	cc, ck := issue(clientCN, 3, x509.ExtKeyUsageClientAuth, nil)
	client, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{dir: dir, pool: pool, client: client}
}

func TestMutualTLSIdentity(t *testing.T) {
	p := newPKI(t, "tpu-1")
	srv, err := New(Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), NoSync: true,
		TLSCert: filepath.Join(p.dir, "server.pem"), TLSKey: filepath.Join(p.dir, "server-key.pem"),
		TLSClientCA: filepath.Join(p.dir, "ca.pem"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	dial := func(certs []tls.Certificate) *grpc.ClientConn {
		creds := credentials.NewTLS(&tls.Config{RootCAs: p.pool, Certificates: certs, MinVersion: tls.VersionTLS13})
		cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	register := func(cc *grpc.ClientConn, id string) error {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		stream, err := agentv1.NewAgentServiceClient(cc).Control(sctx)
		if err != nil {
			return err
		}
		if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{AgentId: id}}}); err != nil && !errors.Is(err, io.EOF) {
			return err // io.EOF: the server ended the stream; Recv has its status
		}
		_, err = stream.Recv()
		return err
	}
	good := dial([]tls.Certificate{p.client})
	if err := register(good, "tpu-1"); err != nil {
		t.Errorf("register as the certificate's name: %v", err)
	}
	if err := register(good, "tpu-2"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("register as another agent: %v, want PermissionDenied", err)
	}
	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "x:y", Dur: capture.Microsecond}))
	stream, err := agentv1.NewAgentServiceClient(good).Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{CaptureId: "c", AgentId: "tpu-2", Chunks: 1, Bytes: int64(len(data)), Sha256: sum}}})
	if _, err := stream.Recv(); status.Code(err) != codes.PermissionDenied {
		t.Errorf("upload as another agent: %v, want PermissionDenied", err)
	}
	// Without a client certificate the agent API refuses the call (the
	// handshake succeeds: API clients may use tokens instead).
	if err := register(dial(nil), "tpu-1"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("register without a client certificate: %v, want Unauthenticated", err)
	}
}
