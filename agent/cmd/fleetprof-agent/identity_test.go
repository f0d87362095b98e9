package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
)

func TestClientTLSAgentID(t *testing.T) {
	p := newPKI(t) // the client certificate's common name is agent-1
	base := Config{TLSCA: filepath.Join(p.dir, "ca.pem"), TLSCert: filepath.Join(p.dir, "agent.pem"), TLSKey: filepath.Join(p.dir, "agent-key.pem")}
	for _, tt := range []struct {
		name   string
		id     string
		idSet  bool
		wantID string
		bad    bool
	}{
		{"default id takes the certificate's", "my-hostname", false, "agent-1", false},
		{"matching --id", "agent-1", true, "agent-1", false},
		{"another --id", "agent-2", true, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.ID, cfg.idSet = tt.id, tt.idSet
			_, err := clientTLS(&cfg)
			if tt.bad {
				if !errors.Is(err, errUsage) {
					t.Errorf("clientTLS = %v, want a usage error", err)
				}
				return
			}
			if err != nil || cfg.ID != tt.wantID {
				t.Errorf("clientTLS: id %q, %v; want %q", cfg.ID, err, tt.wantID)
			}
		})
	}
}

func TestCertAgentID(t *testing.T) {
	uri := func(s string) []*url.URL { u, _ := url.Parse(s); return []*url.URL{u} }
	for _, tt := range []struct {
		name string
		cert x509.Certificate
		want string
		bad  bool
	}{
		{"uri", x509.Certificate{URIs: uri("spiffe://fleetprof/agent/tpu-7"), Subject: pkix.Name{CommonName: "x"}}, "tpu-7", false},
		{"common name", x509.Certificate{Subject: pkix.Name{CommonName: "tpu-8"}}, "tpu-8", false},
		{"other trust domain", x509.Certificate{URIs: uri("spiffe://example/agent/a"), Subject: pkix.Name{CommonName: "cn"}}, "cn", false},
		{"client certificate", x509.Certificate{URIs: uri("spiffe://fleetprof/client/viewer/alice")}, "", true},
		{"nested", x509.Certificate{URIs: uri("spiffe://fleetprof/agent/a/b")}, "", true},
		{"nothing", x509.Certificate{}, "", true},
	} {
		got, err := certAgentID(&tt.cert)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("%s: certAgentID = %q, %v; want %q (error %v)", tt.name, got, err, tt.want, tt.bad)
		}
	}
}
