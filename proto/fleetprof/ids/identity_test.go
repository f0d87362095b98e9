package ids

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func uris(t *testing.T, ss ...string) []*url.URL {
	t.Helper()
	var us []*url.URL
	for _, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", s, err)
		}
		us = append(us, u)
	}
	return us
}

func cert(cn string, us ...*url.URL) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, URIs: us}
}

func TestIdentityOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cert    *x509.Certificate
		want    Identity
		wantErr []error
	}{
		{"agent uri", cert("x", uris(t, "spiffe://fleetprof/agent/tpu-7")...), Identity{Kind: Agent, Name: "tpu-7"}, nil},
		{"agent uri with a dot", cert("", uris(t, "spiffe://fleetprof/agent/host-7.zone")...), Identity{Kind: Agent, Name: "host-7.zone"}, nil},
		{"collector uri", cert("", uris(t, "spiffe://fleetprof/collector/collector")...), Identity{Kind: Collector, Name: "collector"}, nil},
		{"client uri", cert("", uris(t, "spiffe://fleetprof/client/operator/alice")...), Identity{Kind: Client, Name: "alice", Role: "operator"}, nil},
		{"common name", cert("tpu-8"), Identity{Kind: Agent, Name: "tpu-8"}, nil},
		{"other trust domain", cert("cn", uris(t, "spiffe://example/agent/a")...), Identity{Kind: Agent, Name: "cn"}, nil},
		{"other scheme", cert("cn", uris(t, "https://fleetprof/agent/a")...), Identity{Kind: Agent, Name: "cn"}, nil},
		{"uri wins over common name", cert("other", uris(t, "spiffe://example/agent/x", "spiffe://fleetprof/agent/a")...), Identity{Kind: Agent, Name: "a"}, nil},

		{"nothing", cert(""), Identity{}, []error{ErrNoIdentity}},
		{"nil", nil, Identity{}, []error{ErrNoIdentity}},
		{"two uris", cert("", uris(t, "spiffe://fleetprof/agent/a", "spiffe://fleetprof/agent/b")...), Identity{}, []error{ErrBadIdentity}},
		{"agent and client", cert("", uris(t, "spiffe://fleetprof/agent/a", "spiffe://fleetprof/client/admin/a")...), Identity{}, []error{ErrBadIdentity}},
		{"nested", cert("", uris(t, "spiffe://fleetprof/agent/a/b")...), Identity{}, []error{ErrBadIdentity}},
		{"escaped slash", cert("", uris(t, "spiffe://fleetprof/agent/a%2Fb")...), Identity{}, []error{ErrBadIdentity}},
		{"escaped letter", cert("", uris(t, "spiffe://fleetprof/agent/%61")...), Identity{}, []error{ErrBadIdentity}},
		{"empty agent", cert("cn", uris(t, "spiffe://fleetprof/agent/")...), Identity{}, []error{ErrBadIdentity, ErrBadAgent}},
		{"no kind", cert("cn", uris(t, "spiffe://fleetprof")...), Identity{}, []error{ErrBadIdentity}},
		{"unknown kind", cert("cn", uris(t, "spiffe://fleetprof/robot/a")...), Identity{}, []error{ErrBadIdentity}},
		{"unknown role", cert("", uris(t, "spiffe://fleetprof/client/root/a")...), Identity{}, []error{ErrBadIdentity}},
		{"query", cert("", uris(t, "spiffe://fleetprof/agent/a?x=1")...), Identity{}, []error{ErrBadIdentity}},
		{"fragment", cert("", uris(t, "spiffe://fleetprof/agent/a#b")...), Identity{}, []error{ErrBadIdentity}},
		{"user", cert("", uris(t, "spiffe://u@fleetprof/agent/a")...), Identity{}, []error{ErrBadIdentity}},
		{"dot dot agent", cert("", uris(t, "spiffe://fleetprof/agent/..")...), Identity{}, []error{ErrBadIdentity, ErrBadAgent}},
		{"flag agent", cert("", uris(t, "spiffe://fleetprof/agent/-rf")...), Identity{}, []error{ErrBadIdentity, ErrBadAgent}},
		{"bad collector name", cert("", uris(t, "spiffe://fleetprof/collector/.x")...), Identity{}, []error{ErrBadIdentity, ErrBad}},
		{"bad client name", cert("", uris(t, "spiffe://fleetprof/client/viewer/_x")...), Identity{}, []error{ErrBadIdentity, ErrBad}},
		{"long agent", cert("", uris(t, "spiffe://fleetprof/agent/"+strings.Repeat("a", MaxLen+1))...), Identity{}, []error{ErrBadIdentity, ErrBadAgent}},

		// The old registry (1-128 bytes, no control characters) took these;
		// the certificate path refused them in its URI, or took them in a
		// common name without looking.
		{"space in uri", cert("", &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/agent/tpu 1"}), Identity{}, []error{ErrBadIdentity}},
		{"space in common name", cert("tpu 1"), Identity{}, []error{ErrBadAgent}},
		{"unicode common name", cert("tpu-é"), Identity{}, []error{ErrBadAgent}},
		{"dot dot common name", cert(".."), Identity{}, []error{ErrBadAgent}},
		{"path common name", cert("../../etc/passwd"), Identity{}, []error{ErrBadAgent}},
		{"flag common name", cert("-flag"), Identity{}, []error{ErrBadAgent}},
		// The old common-name path took these; the old registry refused them.
		{"control in common name", cert("a\x01b"), Identity{}, []error{ErrBadAgent}},
		{"nul in common name", cert("a\x00b"), Identity{}, []error{ErrBadAgent}},
		{"long common name", cert(strings.Repeat("a", MaxLen+1)), Identity{}, []error{ErrBadAgent}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IdentityOf(tt.cert)
			if got != tt.want {
				t.Errorf("IdentityOf = %+v, want %+v", got, tt.want)
			}
			if (err != nil) != (len(tt.wantErr) > 0) {
				t.Errorf("IdentityOf error = %v, want %v", err, tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("IdentityOf error = %v, want it to be %v", err, want)
				}
			}
		})
	}
}

func TestAgentOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cert    *x509.Certificate
		want    string
		wantErr error
	}{
		{"uri", cert("x", uris(t, "spiffe://fleetprof/agent/tpu-7")...), "tpu-7", nil},
		{"common name", cert("tpu-8"), "tpu-8", nil},
		{"other trust domain", cert("cn", uris(t, "spiffe://example/agent/a")...), "cn", nil},
		{"client certificate", cert("", uris(t, "spiffe://fleetprof/client/viewer/alice")...), "", ErrNotAgent},
		{"collector certificate", cert("collector", uris(t, "spiffe://fleetprof/collector/collector")...), "", ErrNotAgent},
		{"nested", cert("", uris(t, "spiffe://fleetprof/agent/a/b")...), "", ErrBadIdentity},
		{"bad common name", cert("a b"), "", ErrBadAgent},
		{"nothing", cert(""), "", ErrNoIdentity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AgentOf(tt.cert)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("AgentOf = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestURIRoundTrip: every identity URI built for a valid name reads back.
func TestURIRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		kind Kind
		name string
		want Identity
	}{
		{Agent, "tpu-1", Identity{Kind: Agent, Name: "tpu-1"}},
		{Agent, "host-7.zone", Identity{Kind: Agent, Name: "host-7.zone"}},
		{Collector, "c.internal", Identity{Kind: Collector, Name: "c.internal"}},
		{Client, "admin/bob", Identity{Kind: Client, Name: "bob", Role: "admin"}},
	} {
		u := URI(tt.kind, tt.name)
		// Through the string, as a certificate holds it.
		parsed, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("url.Parse(%s): %v", u, err)
		}
		if got, err := IdentityOf(cert("", parsed)); got != tt.want || err != nil {
			t.Errorf("IdentityOf(%s) = %+v, %v; want %+v", u, got, err, tt.want)
		}
	}
}
