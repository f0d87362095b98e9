package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"

	"github.com/fleetprof/fleetprof/plugins/transport/transporttest"
)

// TestFaultRogueAgentIdentity is a rogue client holding a real agent
// certificate (sec-a) on the collector's mTLS agent port: registering or
// uploading as another agent is refused with PermissionDenied, a bad capture
// id with InvalidArgument, the stream ends, and nothing is stored; its own
// identity still works.
func TestFaultRogueAgentIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 2*time.Minute)
	pki, data := t.TempDir(), t.TempDir()
	must := func(name string, args ...string) string { t.Helper(); return mustRunBin(ctx, t, name, args...) }
	must("fleetprof", "certs", "init", "--dir", pki)
	must("fleetprof", "certs", "issue", "--dir", pki, "--name", "collector", "--kind", "collector", "--host", "127.0.0.1,localhost")
	must("fleetprof", "certs", "issue", "--dir", pki, "--name", "sec-a", "--kind", "agent")
	token := strings.SplitN(must("fleetprof-collector", "token", "create", "--data", data, "--role", "viewer", "--name", "e2e"), "\n", 2)[0]
	c := &collector{t: t, data: data}
	file := addrFile(t)
	c.p = startProc(t, "fleetprof-collector", "--data", data, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--addr-file", file, "--tls-cert", filepath.Join(pki, "collector.pem"), "--tls-key", filepath.Join(pki, "collector-key.pem"),
		"--tls-client-ca", filepath.Join(pki, "ca.pem"), "--plugins", filepath.Join(bins, "plugins"), "--snapshot-interval", "0")
	addrs := transporttest.WaitAddrs(t, file, c.p.done)
	agentsAddr := addrs["grpc"]
	c.addr, c.http = addrs["api"], addrs["http"]
	tlsArgs := []string{"--tls-ca", filepath.Join(pki, "ca.pem"), "--token", token}
	waitFor(ctx, t, "the collector's API", func() bool {
		_, _, code := cli(ctx, t, c, append([]string{"captures"}, tlsArgs...)...)
		return code == 0
	})

	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "sec-a.pem"), filepath.Join(pki, "sec-a-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cc, err := grpc.NewClient(agentsAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := agentv1.NewAgentServiceClient(cc)

	// Register as another agent.
	stream, err := client.Control(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{AgentId: "sec-b", Host: "x"}}})
	if _, err := stream.Recv(); statusCode(err) != "PermissionDenied" {
		t.Errorf("Register as sec-b with sec-a's certificate: %v, want PermissionDenied", err)
	}

	data0 := []byte(strings.Repeat("forged ", 200))
	for _, tt := range []struct {
		name, agent, id, want string
	}{
		{"upload for another agent", "sec-b", "forged-1", "PermissionDenied"},
		{"bad capture id", "sec-a", "../../spool/x", "InvalidArgument"},
		{"garbage as itself", "sec-a", "forged-2", "InvalidArgument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up, err := client.Upload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			msgs := []*agentv1.UploadRequest{
				{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{CaptureId: tt.id, AgentId: tt.agent, Chunks: 1, Bytes: int64(len(data0)), Sha256: sha256Sum(data0)}}},
				{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Data: data0}}},
				{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: 1}}},
			}
			for _, m := range msgs {
				if up.Send(m) != nil {
					break
				}
			}
			var rerr error
			for rerr == nil {
				_, rerr = up.Recv()
			}
			if rerr == io.EOF || statusCode(rerr) != tt.want {
				t.Errorf("stream ended with %v, want %s", rerr, tt.want)
			}
		})
	}
	out := mustCLI(ctx, t, c, append([]string{"captures", "--format", "json"}, tlsArgs...)...)
	if strings.Contains(out, "forged") || strings.Contains(out, `"capture_id"`) {
		t.Errorf("rogue uploads stored something:\n%s", out)
	}
	if n := num(c.metric("fleetprof_collector_ingest_captures_total")); n != 0 {
		t.Errorf("%v captures committed", n)
	}
}
