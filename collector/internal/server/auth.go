package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/transport"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// need is what a method asks of its caller.
type need struct {
	// public methods need nothing (health checks).
	public bool
	// agent methods need an agent certificate (or loopback development mode).
	agent bool
	// role is the least role for the API methods.
	role auth.Role
	// long methods get LongRequestTimeout instead of RequestTimeout.
	long bool
}

// methods is the one table of who may call what. Every method of every
// service the server registers must be here (TestMethodTableComplete); a
// method missing from it is refused.
var methods = map[string]need{
	"/grpc.health.v1.Health/Check": {public: true},
	"/grpc.health.v1.Health/List":  {public: true},
	"/grpc.health.v1.Health/Watch": {public: true},

	"/fleetprof.agent.v1.AgentService/Control": {agent: true},
	"/fleetprof.agent.v1.AgentService/Upload":  {agent: true},

	"/fleetprof.collector.v1.CollectorService/ListAgents":        {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/ListCaptures":      {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/GetCapture":        {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/GetReport":         {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/Export":            {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/Diff":              {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/WatchFleetCapture": {role: auth.Viewer},
	"/fleetprof.collector.v1.CollectorService/StartCapture":      {role: auth.Operator},
	"/fleetprof.collector.v1.CollectorService/Analyze":           {role: auth.Operator, long: true},

	"/fleetprof.collector.v1.ScheduleService/ListSchedules":  {role: auth.Viewer},
	"/fleetprof.collector.v1.ScheduleService/AddSchedule":    {role: auth.Operator},
	"/fleetprof.collector.v1.ScheduleService/RemoveSchedule": {role: auth.Operator},
	"/fleetprof.collector.v1.ScheduleService/PauseSchedule":  {role: auth.Operator},
	"/fleetprof.collector.v1.ScheduleService/ResumeSchedule": {role: auth.Operator},

	"/fleetprof.collector.v1.InsightService/GetFleetReport":  {role: auth.Viewer},
	"/fleetprof.collector.v1.InsightService/GetTrend":        {role: auth.Viewer},
	"/fleetprof.collector.v1.InsightService/ListRegressions": {role: auth.Viewer},
	"/fleetprof.collector.v1.InsightService/PinBaseline":     {role: auth.Operator},
	"/fleetprof.collector.v1.InsightService/UnpinBaseline":   {role: auth.Operator},

	"/fleetprof.collector.v1.ExperimentService/GetExperiment":       {role: auth.Viewer},
	"/fleetprof.collector.v1.ExperimentService/ListExperiments":     {role: auth.Viewer},
	"/fleetprof.collector.v1.ExperimentService/GetExperimentReport": {role: auth.Viewer},
	"/fleetprof.collector.v1.ExperimentService/StartExperiment":     {role: auth.Operator},

	"/fleetprof.collector.v1.AdminService/CreateToken": {role: auth.Admin},
	"/fleetprof.collector.v1.AdminService/ListTokens":  {role: auth.Admin},
	"/fleetprof.collector.v1.AdminService/RevokeToken": {role: auth.Admin},
}

// Why calls are denied: the reason label of the denied counter.
const (
	reasonUnknownMethod = "unknown_method"
	reasonNoCert        = "no_agent_certificate"
	reasonNotAgent      = "not_an_agent"
	reasonAgentCert     = "agent_certificate_on_api"
	reasonNoCredentials = "no_credentials"
	reasonBadToken      = "bad_token"
	reasonRole          = "role"
	reasonIdentity      = "identity_mismatch"
	reasonInternal      = "internal"
)

// identityKey keys the authenticated agent id in a request's context.
type identityKey struct{}

// agentIdentity returns the agent id the request authenticated as (its
// client certificate's identity under mTLS), or "" in loopback development
// mode, where agents are not authenticated.
func agentIdentity(ctx context.Context) string {
	id, _ := ctx.Value(identityKey{}).(string)
	return id
}

// principalKey keys the API caller in a request's context.
type principalKey struct{}

// Principal is who an API call runs as.
type Principal struct {
	// Name is the token's id and name, the client certificate's name, or
	// "loopback-dev".
	Name string
	// Role is the caller's role.
	Role auth.Role
}

// PrincipalOf returns the API caller of a request's context.
func PrincipalOf(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// guard authenticates and authorizes every gRPC call: the server's one
// interceptor pair (unary and stream) runs it first.
type guard struct {
	db  *store.DB
	log *slog.Logger
	// dev is loopback development mode (--insecure): agents without
	// certificates are let in, and so are API callers on loopback without
	// a token while no token exists.
	dev bool
	// timeout and longTimeout bound unary calls.
	timeout, longTimeout time.Duration
	denied               *prometheus.CounterVec
}

func newGuard(db *store.DB, dev bool, timeout, longTimeout time.Duration, log *slog.Logger, reg prometheus.Registerer) *guard {
	factory := promauto.With(reg) // a nil Registerer registers nothing
	g := &guard{
		db: db, log: log.With("component", "auth"), dev: dev, timeout: timeout, longTimeout: longTimeout,
		denied: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_auth_denied_total",
			Help: "gRPC calls refused by authentication or authorization, by method and reason.",
		}, []string{"method", "reason"}),
	}
	return g
}

// denial is a refused call: its status and the reason counted.
type denial struct {
	code   codes.Code
	reason string
	msg    string
}

func (d *denial) Error() string { return d.msg }

// authorize returns ctx with the caller's identity, or a denial.
func (g *guard) authorize(ctx context.Context, method string) (context.Context, *denial) {
	n, ok := methods[method]
	if !ok {
		return ctx, &denial{codes.PermissionDenied, reasonUnknownMethod, "method not allowed"}
	}
	if n.public {
		return ctx, nil
	}
	id, hasCert := peerIdentity(ctx)
	if n.agent {
		switch {
		case hasCert && id.Kind == ids.Agent:
			return context.WithValue(ctx, identityKey{}, id.Name), nil
		case hasCert:
			return ctx, &denial{codes.PermissionDenied, reasonNotAgent, "the agent API needs an agent certificate (spiffe://fleetprof/agent/<id>)"}
		case g.dev && loopbackPeer(ctx):
			return ctx, nil
		}
		return ctx, &denial{codes.Unauthenticated, reasonNoCert, "the agent API needs a client certificate signed by the collector's --tls-client-ca"}
	}
	var p Principal
	if tok, ok := bearer(ctx); ok {
		role, rec, err := auth.Lookup(ctx, g.db, tok)
		if errors.Is(err, auth.ErrBadToken) {
			return ctx, &denial{codes.Unauthenticated, reasonBadToken, "invalid or revoked token"}
		}
		if err != nil {
			g.log.Error("token lookup", "error", err)
			return ctx, &denial{codes.Unavailable, reasonInternal, "cannot check the token now"}
		}
		p = Principal{Name: "token " + rec.ID + " (" + rec.Name + ")", Role: role}
	} else {
		switch {
		case hasCert && id.Kind == ids.Client:
			role, _ := auth.ParseRole(id.Role)
			p = Principal{Name: "certificate " + id.Name, Role: role}
		case hasCert && id.Kind == ids.Agent:
			return ctx, &denial{codes.PermissionDenied, reasonAgentCert, "agent certificates cannot call the API: use a token"}
		case g.dev && loopbackPeer(ctx) && !g.anyTokens(ctx):
			p = Principal{Name: "loopback-dev", Role: auth.Admin}
		default:
			return ctx, &denial{codes.Unauthenticated, reasonNoCredentials, "no credentials: send a bearer token (fleetprof --token or FLEETPROF_TOKEN)"}
		}
	}
	if p.Role < n.role {
		return ctx, &denial{codes.PermissionDenied, reasonRole, fmt.Sprintf("role %s may not call %s: it needs %s", p.Role, shortMethod(method), n.role)}
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// anyTokens reports whether a token exists; errors count as yes (fail closed).
func (g *guard) anyTokens(ctx context.Context) bool {
	found, err := auth.Any(ctx, g.db)
	return found || err != nil
}

// deny logs and counts a refused call and returns its status.
func (g *guard) deny(ctx context.Context, method string, d *denial) error {
	label := method
	if _, ok := methods[method]; !ok {
		label = "unknown" // bounded label values
	}
	g.denied.WithLabelValues(label, d.reason).Inc()
	g.log.Warn("call denied", "method", method, "peer", peerAddr(ctx), "reason", d.reason, "detail", d.msg)
	return status.Error(d.code, d.msg)
}

// observe counts an agent refused by the handler for claiming another
// agent's id (registry and ingest check it against identityKey).
func (g *guard) observe(ctx context.Context, method string, n need, err error) {
	if n.agent && status.Code(err) == codes.PermissionDenied {
		g.denied.WithLabelValues(method, reasonIdentity).Inc()
		g.log.Warn("call denied", "method", method, "peer", peerAddr(ctx), "reason", reasonIdentity,
			"agent_id", agentIdentity(ctx), "detail", status.Convert(err).Message())
	}
}

// unary is the unary half of the interceptor pair: it authorizes and
// bounds the call's time.
func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, d := g.authorize(ctx, info.FullMethod)
	if d != nil {
		return nil, g.deny(ctx, info.FullMethod, d)
	}
	n := methods[info.FullMethod]
	limit := g.timeout
	if n.long {
		limit = g.longTimeout
	}
	if !n.public {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	resp, err := handler(ctx, req)
	g.observe(ctx, info.FullMethod, n, err)
	return resp, err
}

// stream is the stream half of the interceptor pair. Streams are long-lived
// (control streams, uploads, exports) and bounded by keepalives instead.
func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, d := g.authorize(ss.Context(), info.FullMethod)
	if d != nil {
		return g.deny(ctx, info.FullMethod, d)
	}
	err := handler(srv, &authStream{ServerStream: ss, ctx: ctx})
	g.observe(ctx, info.FullMethod, methods[info.FullMethod], err)
	return err
}

// authStream is a stream with the authenticated context.
type authStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the authenticated context.
func (s *authStream) Context() context.Context { return s.ctx }

// peerIdentity returns the identity of the verified client certificate;
// false when there is none or it names no valid identity.
func peerIdentity(ctx context.Context) (ids.Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ids.Identity{}, false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return ids.Identity{}, false
	}
	id, err := ids.IdentityOf(ti.State.VerifiedChains[0][0])
	return id, err == nil
}

// bearer returns the bearer token of the call's metadata.
func bearer(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok && tok != "" {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}

// loopbackPeer reports whether the caller connects from a loopback address.
func loopbackPeer(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	a, ok := p.Addr.(*net.TCPAddr)
	return ok && transport.Loopback(a.IP.String())
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

// shortMethod is "Service/Method" of a full method name.
func shortMethod(m string) string {
	parts := strings.Split(m, "/")
	if len(parts) < 3 {
		return m
	}
	svc := parts[1]
	if i := strings.LastIndexByte(svc, '.'); i >= 0 {
		svc = svc[i+1:]
	}
	return svc + "/" + parts[2]
}
