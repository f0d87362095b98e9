package ids

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Kind is what a certificate is for.
type Kind string

// Kinds.
const (
	// Agent is an agent's client certificate; its name is the agent id.
	Agent Kind = "agent"
	// Collector is a collector's server certificate.
	Collector Kind = "collector"
	// Client is a person's or a tool's client certificate with a role.
	Client Kind = "client"
)

// TrustDomain is the host part of the identity URIs.
const TrustDomain = "fleetprof"

// Roles are the roles a client certificate may carry (the collector's token
// roles), least first.
var Roles = []string{"viewer", "operator", "admin"}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// Identity is who a verified certificate says its holder is.
type Identity struct {
	// Kind is agent, collector or client.
	Kind Kind
	// Name is the agent id, the collector's or the client's name.
	Name string
	// Role is a client's role.
	Role string
}

// URI is the identity URI of a certificate of kind for name (for a client,
// name is "<role>/<name>"):
//
//	spiffe://fleetprof/agent/<agent id>        an agent (client auth)
//	spiffe://fleetprof/collector/<name>        a collector (server auth)
//	spiffe://fleetprof/client/<role>/<name>    a person or tool (client auth)
func URI(kind Kind, name string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: TrustDomain, Path: "/" + string(kind) + "/" + name}
}

// IdentityOf reads the fleetprof identity of a certificate the TLS stack
// has verified (or the agent's own): its one spiffe://fleetprof/ URI SAN,
// else, for a certificate from another PKI with no such URI, its common name
// as an agent id. URIs of other schemes or trust domains are ignored.
//
// It returns ErrBadIdentity when a fleetprof URI is malformed (a query,
// fragment, user, escaped path, unknown kind or role, or a name that is not
// a valid id; an agent's must pass ValidAgent, a collector's or a client's
// name Valid) or when there is more than one; ErrBadAgent when the common
// name it falls back to is not a valid agent id; ErrNoIdentity when there is
// neither a fleetprof URI nor a common name.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, ErrNoIdentity
	}
	var found []Identity
	for _, u := range cert.URIs {
		if u == nil || u.Scheme != "spiffe" || u.Host != TrustDomain {
			continue
		}
		id, err := parseURI(u)
		if err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return Identity{}, fmt.Errorf("%w: the certificate holds %d", ErrBadIdentity, len(found))
	case cert.Subject.CommonName == "":
		return Identity{}, ErrNoIdentity
	}
	cn := cert.Subject.CommonName
	if err := CheckAgent(cn); err != nil {
		return Identity{}, fmt.Errorf("common name: %w", err)
	}
	return Identity{Kind: Agent, Name: cn}, nil
}

// AgentOf is the agent id a certificate carries, read as IdentityOf reads
// it; ErrNotAgent when the certificate is a collector's or a client's.
func AgentOf(cert *x509.Certificate) (string, error) {
	id, err := IdentityOf(cert)
	if err != nil {
		return "", err
	}
	if id.Kind != Agent {
		return "", fmt.Errorf("%w: it is a %s certificate", ErrNotAgent, id.Kind)
	}
	return id.Name, nil
}

// parseURI reads a spiffe://fleetprof/ URI.
func parseURI(u *url.URL) (Identity, error) {
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.EscapedPath() != u.Path {
		return Identity{}, fmt.Errorf("%w: %s", ErrBadIdentity, u)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	var (
		id  Identity
		err error
	)
	switch kind := Kind(parts[0]); {
	case kind == Agent && len(parts) == 2:
		id, err = Identity{Kind: Agent, Name: parts[1]}, CheckAgent(parts[1])
	case kind == Collector && len(parts) == 2:
		id, err = Identity{Kind: Collector, Name: parts[1]}, Check(parts[1])
	case kind == Client && len(parts) == 3 && ValidRole(parts[1]):
		id, err = Identity{Kind: Client, Role: parts[1], Name: parts[2]}, Check(parts[2])
	default:
		return Identity{}, fmt.Errorf("%w: %s", ErrBadIdentity, u)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %s: %w", ErrBadIdentity, u, err)
	}
	return id, nil
}
