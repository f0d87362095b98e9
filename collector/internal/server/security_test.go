package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/certs"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// hostileIDs must never name a capture, a file or an object.
var hostileIDs = []string{"../../etc/passwd", "a/b", "", strings.Repeat("a", 200), "a\x00b", "..", ".hidden"}

// testPKI is a development CA from the certs package, with the
// collector's certificate, and a second, foreign CA.
type testPKI struct {
	dir, foreignDir string
	ca, foreign     *certs.CA
	pool            *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir(), foreignDir: t.TempDir()}
	var err error
	if p.ca, err = certs.Init(p.dir, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if p.foreign, err = certs.Init(p.foreignDir, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ca.Issue(certs.Request{Name: "collector", Kind: ids.Collector}, time.Now()); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca.Cert)
	return p
}

// cert issues a certificate from ca and loads it.
func (p *testPKI) cert(t *testing.T, ca *certs.CA, req certs.Request) tls.Certificate {
	t.Helper()
	is, err := ca.Issue(req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.LoadX509KeyPair(is.CertFile, is.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startTLS runs a collector with mTLS on loopback until the test ends.
func startTLS(t *testing.T, p *testPKI, data string, log *slog.Logger) *Server {
	t.Helper()
	return runServer(t, Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: data,
		TLSCert: filepath.Join(p.dir, "collector.pem"), TLSKey: filepath.Join(p.dir, "collector-key.pem"),
		TLSClientCA: filepath.Join(p.dir, certs.CAFile), Registry: prometheus.NewRegistry(), Logger: log,
	})
}

// dialTLS connects with optional client certificate and bearer token.
func dialTLS(t *testing.T, srv *Server, pool *x509.CertPool, cert *tls.Certificate, token string) *grpc.ClientConn {
	t.Helper()
	tc := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerCreds(token)))
	}
	cc, err := grpc.NewClient(srv.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// bearerCreds sends a bearer token with every call.
type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (b bearerCreds) RequireTransportSecurity() bool { return false }

// register opens a control stream and registers as id.
func register(ctx context.Context, cc *grpc.ClientConn, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentServiceClient(cc).Control(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{AgentId: id}}}); err != nil && !errors.Is(err, io.EOF) {
		return err // io.EOF: the server ended the stream; Recv has its status
	}
	m, err := stream.Recv()
	if err == nil && m.GetRegistered() == nil {
		return status.Error(codes.Unknown, "first answer is not Registered")
	}
	return err
}

func denied(srv *Server, method, reason string) float64 {
	return testutil.ToFloat64(srv.guard.denied.WithLabelValues(method, reason))
}

func TestAgentMutualTLS(t *testing.T) {
	ctx := context.Background()
	p := newTestPKI(t)
	srv := startTLS(t, p, t.TempDir(), nil)
	good := p.cert(t, p.ca, certs.Request{Name: "tpu-1", Kind: ids.Agent})
	other := p.cert(t, p.ca, certs.Request{Name: "tpu-2", Kind: ids.Agent})
	foreign := p.cert(t, p.foreign, certs.Request{Name: "tpu-1", Kind: ids.Agent})
	client := p.cert(t, p.ca, certs.Request{Name: "alice", Kind: ids.Client, Role: "viewer"})
	const control = "/fleetprof.agent.v1.AgentService/Control"
	const upload = "/fleetprof.agent.v1.AgentService/Upload"

	for _, tt := range []struct {
		name string
		cert *tls.Certificate
		id   string
		want codes.Code
	}{
		{"valid certificate", &good, "tpu-1", codes.OK},
		{"another valid agent", &other, "tpu-2", codes.OK},
		{"no certificate", nil, "tpu-1", codes.Unauthenticated},
		{"certificate of another CA", &foreign, "tpu-1", codes.Unavailable}, // the handshake fails
		{"claims another agent's id", &good, "tpu-2", codes.PermissionDenied},
		{"client certificate", &client, "alice", codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := register(ctx, dialTLS(t, srv, p.pool, tt.cert, ""), tt.id)
			if got := status.Code(err); got != tt.want {
				t.Errorf("register as %s: %v, want %v", tt.id, err, tt.want)
			}
		})
	}

	// Upload for another agent: refused before anything is staged.
	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "x:y", Dur: capture.Microsecond}))
	_, err := agenttest.Upload(ctx, dialTLS(t, srv, p.pool, &good, ""), agenttest.UploadSpec{CaptureID: "c-1", AgentID: "tpu-2", Data: data, SHA256: sum})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("upload as another agent: %v, want PermissionDenied", err)
	}
	// Its own upload commits.
	if _, err := agenttest.Upload(ctx, dialTLS(t, srv, p.pool, &good, ""), agenttest.UploadSpec{CaptureID: "c-2", AgentID: "tpu-1", Data: data, SHA256: sum}); err != nil {
		t.Errorf("upload as itself: %v", err)
	}
	_ = srv.Store().View(ctx, func(r *store.Reader) error {
		if r.Committed("c-1") {
			t.Error("the forged upload c-1 was committed")
		}
		if u, err := r.Upload("c-1"); err == nil {
			t.Errorf("the forged upload was staged: %+v", u)
		}
		return nil
	})

	for _, c := range []struct {
		method, reason string
		want           float64
	}{
		{control, reasonIdentity, 1}, {upload, reasonIdentity, 1}, {control, reasonNoCert, 1}, {control, reasonNotAgent, 1},
	} {
		if got := denied(srv, c.method, c.reason); got != c.want {
			t.Errorf("denied{%s, %s} = %v, want %v", c.method, c.reason, got, c.want)
		}
	}
	// An agent certificate is not an API credential.
	_, err = collectorv1.NewCollectorServiceClient(dialTLS(t, srv, p.pool, &good, "")).ListAgents(ctx, &collectorv1.ListAgentsRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("ListAgents with an agent certificate: %v, want PermissionDenied", err)
	}
	// A client certificate carries its role.
	cc := dialTLS(t, srv, p.pool, &client, "")
	if _, err := collectorv1.NewCollectorServiceClient(cc).ListAgents(ctx, &collectorv1.ListAgentsRequest{}); err != nil {
		t.Errorf("ListAgents with a viewer client certificate: %v", err)
	}
	if _, err := collectorv1.NewCollectorServiceClient(cc).StartCapture(ctx, &collectorv1.StartCaptureRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("StartCapture with a viewer client certificate: %v, want PermissionDenied", err)
	}
}

// call is one API call, by method class.
type call struct {
	method string
	role   auth.Role
	do     func(ctx context.Context, cc *grpc.ClientConn) error
}

var apiCalls = []call{
	{"/fleetprof.collector.v1.CollectorService/ListCaptures", auth.Viewer, func(ctx context.Context, cc *grpc.ClientConn) error {
		_, err := collectorv1.NewCollectorServiceClient(cc).ListCaptures(ctx, &collectorv1.ListCapturesRequest{})
		return err
	}},
	{"/fleetprof.collector.v1.ScheduleService/ListSchedules", auth.Viewer, func(ctx context.Context, cc *grpc.ClientConn) error {
		_, err := collectorv1.NewScheduleServiceClient(cc).ListSchedules(ctx, &collectorv1.ListSchedulesRequest{})
		return err
	}},
	{"/fleetprof.collector.v1.CollectorService/StartCapture", auth.Operator, func(ctx context.Context, cc *grpc.ClientConn) error {
		_, err := collectorv1.NewCollectorServiceClient(cc).StartCapture(ctx, &collectorv1.StartCaptureRequest{Selector: "nobody=here"})
		if status.Code(err) == codes.FailedPrecondition { // allowed, but no agent matches
			return nil
		}
		return err
	}},
	{"/fleetprof.collector.v1.ScheduleService/RemoveSchedule", auth.Operator, func(ctx context.Context, cc *grpc.ClientConn) error {
		_, err := collectorv1.NewScheduleServiceClient(cc).RemoveSchedule(ctx, &collectorv1.RemoveScheduleRequest{Schedule: "s-00000000"})
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	}},
	{"/fleetprof.collector.v1.AdminService/ListTokens", auth.Admin, func(ctx context.Context, cc *grpc.ClientConn) error {
		_, err := collectorv1.NewAdminServiceClient(cc).ListTokens(ctx, &collectorv1.ListTokensRequest{})
		return err
	}},
}

func TestTokenRoles(t *testing.T) {
	ctx := context.Background()
	p := newTestPKI(t)
	data := t.TempDir()
	var logs logtest.Buffer
	srv := startTLS(t, p, data, slog.New(slog.NewTextHandler(&logs, nil)))
	tokens := map[auth.Role]*auth.Created{}
	for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
		c, err := auth.Create(ctx, srv.Store(), "test "+r.String(), r)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = c
	}
	for _, r := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
		cc := dialTLS(t, srv, p.pool, nil, tokens[r].Token)
		for _, c := range apiCalls {
			err := c.do(ctx, cc)
			want := codes.OK
			if r < c.role {
				want = codes.PermissionDenied
			}
			if got := status.Code(err); got != want {
				t.Errorf("%s calls %s: %v, want %v", r, c.method, err, want)
			}
		}
	}
	if got := denied(srv, "/fleetprof.collector.v1.AdminService/ListTokens", reasonRole); got != 2 {
		t.Errorf("denied{ListTokens, role} = %v, want 2 (viewer, operator)", got)
	}
	if got := denied(srv, "/fleetprof.collector.v1.CollectorService/StartCapture", reasonRole); got != 1 {
		t.Errorf("denied{StartCapture, role} = %v, want 1 (viewer)", got)
	}

	// No token, a made-up token, a revoked token.
	list := apiCalls[0]
	if err := list.do(ctx, dialTLS(t, srv, p.pool, nil, "")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v, want Unauthenticated", err)
	}
	if err := list.do(ctx, dialTLS(t, srv, p.pool, nil, "fpt_"+strings.Repeat("A", 43))); status.Code(err) != codes.Unauthenticated {
		t.Errorf("made-up token: %v, want Unauthenticated", err)
	}
	admin := collectorv1.NewAdminServiceClient(dialTLS(t, srv, p.pool, nil, tokens[auth.Admin].Token))
	created, err := admin.CreateToken(ctx, &collectorv1.CreateTokenRequest{Name: "ci", Role: collectorv1.Role_ROLE_VIEWER})
	if err != nil {
		t.Fatal(err)
	}
	ci := dialTLS(t, srv, p.pool, nil, created.GetToken())
	if err := list.do(ctx, ci); err != nil {
		t.Errorf("new token: %v", err)
	}
	ls, err := admin.ListTokens(ctx, &collectorv1.ListTokensRequest{})
	if err != nil || len(ls.GetTokens()) != 4 {
		t.Errorf("ListTokens = %d tokens, %v; want 4", len(ls.GetTokens()), err)
	}
	if _, err := admin.RevokeToken(ctx, &collectorv1.RevokeTokenRequest{TokenId: created.GetInfo().GetTokenId()}); err != nil {
		t.Fatal(err)
	}
	if err := list.do(ctx, ci); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked token: %v, want Unauthenticated", err)
	}
	if got := denied(srv, list.method, reasonBadToken); got != 2 {
		t.Errorf("denied{ListCaptures, bad_token} = %v, want 2", got)
	}
	if _, err := admin.CreateToken(ctx, &collectorv1.CreateTokenRequest{Name: "x"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateToken without a role: %v, want InvalidArgument", err)
	}

	// Hashed at rest: no token appears in the file, its hash does.
	raw, err := os.ReadFile(filepath.Join(data, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for r, c := range tokens {
		secret, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(c.Token, auth.TokenPrefix))
		if bytes.Contains(raw, []byte(c.Token)) || bytes.Contains(raw, []byte(strings.TrimPrefix(c.Token, auth.TokenPrefix))) || bytes.Contains(raw, secret) {
			t.Errorf("the %s token is in the bbolt file", r)
		}
		if !bytes.Contains(raw, auth.Hash(c.Token)) {
			t.Errorf("the %s token's hash is not in the bbolt file (wrong file scanned?)", r)
		}
	}
	if bytes.Contains(raw, []byte(created.GetToken())) {
		t.Error("the revoked token is in the bbolt file")
	}

	// Denied calls are logged with the method, the peer and the reason,
	// never the token.
	log := logs.String()
	for _, want := range []string{`msg="call denied" component=auth method=/fleetprof.collector.v1.CollectorService/ListCaptures peer=127.0.0.1:`, "reason=bad_token", "reason=role", "reason=no_credentials"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(log, auth.TokenPrefix) {
		t.Errorf("a token is in the log:\n%s", log)
	}
}

// TestMethodTableComplete fails when a service method has no entry in the
// guard's table (it would be refused), or the table names a method no
// service has.
func TestMethodTableComplete(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), Insecure: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	seen := map[string]bool{}
	infos := srv.grpc.GetServiceInfo()
	if srv.apiGRPC != nil {
		maps.Copy(infos, srv.apiGRPC.GetServiceInfo())
	}
	for svc, info := range infos {
		for _, m := range info.Methods {
			name := "/" + svc + "/" + m.Name
			seen[name] = true
			if _, ok := methods[name]; !ok {
				t.Errorf("method %s is not in the guard's table", name)
			}
		}
	}
	for name, n := range methods {
		if !seen[name] {
			t.Errorf("the guard's table names %s, which no service has", name)
		}
		if !n.public && !n.agent && n.role == auth.None {
			t.Errorf("%s needs neither a role nor an agent", name)
		}
	}
	if len(seen) < 20 {
		t.Errorf("only %d methods registered; want every service", len(seen))
	}
}

// TestLoopbackDevMode: with --insecure and no token, loopback callers are
// admins and agents are not authenticated; once a token exists, tokens are
// required.
func TestLoopbackDevMode(t *testing.T) {
	ctx := context.Background()
	srv := runServer(t, Config{Listen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), Insecure: true, NoSync: true, Registry: prometheus.NewRegistry()})
	cc, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	admin := collectorv1.NewAdminServiceClient(cc)
	created, err := admin.CreateToken(ctx, &collectorv1.CreateTokenRequest{Name: "first", Role: collectorv1.Role_ROLE_ADMIN})
	if err != nil {
		t.Fatalf("CreateToken in development mode: %v", err)
	}
	if err := register(ctx, cc, "dev-agent"); err != nil {
		t.Errorf("agent without a certificate in development mode: %v", err)
	}
	if _, err := admin.ListTokens(ctx, &collectorv1.ListTokensRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListTokens without a token once one exists: %v, want Unauthenticated", err)
	}
	md := metadata.Pairs("authorization", "Bearer "+created.GetToken())
	if _, err := admin.ListTokens(metadata.NewOutgoingContext(ctx, md), &collectorv1.ListTokensRequest{}); err != nil {
		t.Errorf("ListTokens with the token: %v", err)
	}
}

func TestInsecureRefusedOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "10.1.2.3:7070", "example.com:7070", ":7070"} {
		_, err := New(Config{Listen: addr, HTTP: "-", DataDir: t.TempDir(), Insecure: true})
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("New(--insecure --listen %s) = %v, want a refusal", addr, err)
		}
	}
}

func TestUnaryDeadline(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	g := newGuard(db, true, 50*time.Millisecond, time.Hour, discard(), prometheus.NewRegistry())
	for _, tt := range []struct {
		method string
		want   time.Duration
	}{
		{"/fleetprof.collector.v1.ScheduleService/AddSchedule", 50 * time.Millisecond},
		{"/fleetprof.collector.v1.CollectorService/Analyze", time.Hour},
	} {
		var got time.Duration
		_, err := g.unary(peerCtx(ctx), nil, &grpc.UnaryServerInfo{FullMethod: tt.method}, func(ctx context.Context, _ any) (any, error) {
			d, ok := ctx.Deadline()
			if !ok {
				t.Errorf("%s: no deadline", tt.method)
			}
			got = time.Until(d)
			return nil, nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if got > tt.want || got < tt.want-time.Second/2 && tt.want > time.Second {
			t.Errorf("%s: deadline in %v, want about %v", tt.method, got, tt.want)
		}
	}
	if _, err := g.unary(peerCtx(ctx), nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"}, nil); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a method missing from the table: %v, want PermissionDenied", err)
	}
	if got := testutil.ToFloat64(g.denied.WithLabelValues("unknown", reasonUnknownMethod)); got != 1 {
		t.Errorf("denied{unknown, unknown_method} = %v, want 1", got)
	}
}

func TestHostileCaptureIDs(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "x:y", Dur: capture.Microsecond}))
	for _, id := range hostileIDs {
		if _, err := agenttest.Upload(ctx, c.cc, agenttest.UploadSpec{CaptureID: id, AgentID: "a", Data: data, SHA256: sum}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("upload %q: %v, want InvalidArgument", id, err)
		}
		if _, err := c.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: id}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetCapture(%q): %v, want InvalidArgument", id, err)
		}
	}
	var n int
	_ = c.srv.Store().View(ctx, func(r *store.Reader) error {
		ups, _ := r.Uploads()
		n = len(ups)
		return nil
	})
	if n != 0 {
		t.Errorf("%d uploads staged from hostile ids, want 0", n)
	}
}

func TestWebAuth(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	g := newGuard(db, false, time.Second, time.Second, discard(), prometheus.NewRegistry())
	viewer, _ := auth.Create(ctx, db, "v", auth.Viewer)
	operator, _ := auth.Create(ctx, db, "o", auth.Operator)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := g.http(ok)
	for _, tt := range []struct {
		name, method, header, cookie string
		want                         int
	}{
		{"no token GET", "GET", "", "", http.StatusSeeOther},
		{"no token POST", "POST", "", "", http.StatusUnauthorized},
		{"bad token", "GET", "Bearer fpt_nope", "", http.StatusSeeOther},
		{"viewer GET header", "GET", "Bearer " + viewer.Token, "", http.StatusNoContent},
		{"viewer GET cookie", "GET", "", viewer.Token, http.StatusNoContent},
		{"viewer POST", "POST", "Bearer " + viewer.Token, "", http.StatusForbidden},
		{"operator POST", "POST", "", operator.Token, http.StatusNoContent},
		{"operator DELETE", "DELETE", "", operator.Token, http.StatusMethodNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/captures", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: TokenCookie, Value: tt.cookie})
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("%s /captures = %d, want %d", tt.method, w.Code, tt.want)
			}
		})
	}
	if got := testutil.ToFloat64(g.denied.WithLabelValues("HTTP POST", reasonRole)); got != 1 {
		t.Errorf("denied{HTTP POST, role} = %v, want 1", got)
	}
	// /login sets the cookie for a good token only.
	mux := http.NewServeMux()
	g.registerLogin(mux)
	for _, tt := range []struct {
		token string
		want  int
	}{{viewer.Token, http.StatusSeeOther}, {"fpt_wrong", http.StatusUnauthorized}} {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {tt.token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("POST /login = %d, want %d", w.Code, tt.want)
		}
		if got := w.Result().Cookies(); (tt.want == http.StatusSeeOther) != (len(got) == 1 && got[0].HttpOnly && got[0].Value == tt.token) {
			t.Errorf("POST /login cookies = %v", got)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// peerCtx is ctx as a loopback caller's.
func peerCtx(ctx context.Context) context.Context {
	return peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}})
}

// TestSplitListeners: with --api-listen, the agents' port requires a client
// certificate in the handshake and serves only the agent API; the API port
// takes tokens without a certificate and serves no agent API.
func TestSplitListeners(t *testing.T) {
	ctx := context.Background()
	p := newTestPKI(t)
	srv := runServer(t, Config{
		Listen: "127.0.0.1:0", APIListen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), NoSync: true,
		TLSCert: filepath.Join(p.dir, "collector.pem"), TLSKey: filepath.Join(p.dir, "collector-key.pem"),
		TLSClientCA: filepath.Join(p.dir, certs.CAFile), Registry: prometheus.NewRegistry(),
	})
	if srv.APIAddr() == srv.Addr() {
		t.Fatalf("APIAddr = Addr = %s", srv.Addr())
	}
	tok, err := auth.Create(ctx, srv.Store(), "t", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	good := p.cert(t, p.ca, certs.Request{Name: "tpu-1", Kind: ids.Agent})
	dial := func(addr string, cert *tls.Certificate, token string) *grpc.ClientConn {
		tc := &tls.Config{RootCAs: p.pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tc))}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(bearerCreds(token)))
		}
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	if err := register(ctx, dial(srv.Addr(), &good, ""), "tpu-1"); err != nil {
		t.Errorf("agent with its certificate on the agents' port: %v", err)
	}
	if err := register(ctx, dial(srv.Addr(), nil, ""), "tpu-1"); status.Code(err) != codes.Unavailable {
		t.Errorf("agent without a certificate on the agents' port: %v, want Unavailable (handshake refused)", err)
	}
	if err := register(ctx, dial(srv.APIAddr(), &good, ""), "tpu-1"); status.Code(err) != codes.Unimplemented {
		t.Errorf("agent API on the API port: %v, want Unimplemented", err)
	}
	list := func(cc *grpc.ClientConn) error {
		_, err := collectorv1.NewCollectorServiceClient(cc).ListAgents(ctx, &collectorv1.ListAgentsRequest{})
		return err
	}
	if err := list(dial(srv.APIAddr(), nil, tok.Token)); err != nil {
		t.Errorf("ListAgents with a token on the API port: %v", err)
	}
	if err := list(dial(srv.Addr(), &good, tok.Token)); status.Code(err) != codes.Unimplemented {
		t.Errorf("ListAgents on the agents' port: %v, want Unimplemented", err)
	}
	if _, err := New(Config{Listen: "127.0.0.1:0", APIListen: "0.0.0.0:0", HTTP: "-", DataDir: t.TempDir(), Insecure: true}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("--insecure with a non-loopback --api-listen = %v, want a refusal", err)
	}
}
