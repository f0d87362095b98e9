package main

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
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

// TestClientTLSBadIdentity: a certificate whose identity the collector
// would refuse is a usage error naming the ids rule, before any dial.
func TestClientTLSBadIdentity(t *testing.T) {
	p := newPKI(t) // bad-agent.pem's common name is "agent 1"
	cfg := Config{TLSCA: filepath.Join(p.dir, "ca.pem"), TLSCert: filepath.Join(p.dir, "bad-agent.pem"), TLSKey: filepath.Join(p.dir, "bad-agent-key.pem"), ID: "agent-1"}
	if _, err := clientTLS(&cfg); !errors.Is(err, errUsage) || !errors.Is(err, ids.ErrBadAgent) {
		t.Errorf("clientTLS = %v, want a usage error and ids.ErrBadAgent", err)
	}
}
