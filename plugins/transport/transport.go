// Package transport holds what fleetprof's agent, collector, CLI and test
// tools share about how they talk to each other: which addresses count as
// loopback, and how their TLS is configured.
//
// It sits beside the plugin SDK only because plugins/ is where code both
// the agent and the collector import can live; it is not part of the SDK
// and plugin authors should not depend on it (see plugins/README.md).
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// Errors.
var (
	// ErrNoPEM means a CA file holds no PEM certificate.
	ErrNoPEM = errors.New("transport: no PEM certificate in the file")
)

// Loopback reports whether addr, "host:port" or a bare host, names a
// loopback address: "localhost" or a loopback IP (127.0.0.0/8, ::1).
func Loopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TLSFiles names the PEM files of a TLS configuration. Empty fields are
// left out.
type TLSFiles struct {
	// Cert and Key are this side's certificate and key.
	Cert, Key string
	// CA verifies the other side: the server's certificate for a client
	// (empty means the system's roots), the clients' for a server (empty
	// means clients are not asked for one).
	CA string
}

// ClientTLS returns a client's TLS config for serverName (empty means the
// dialled host). Every fleetprof connection is between fleetprof's own
// processes, so TLS 1.3 is the minimum.
func ClientTLS(f TLSFiles, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: serverName}
	var err error
	if f.CA != "" {
		if tc.RootCAs, err = loadPool(f.CA); err != nil {
			return nil, err
		}
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("load key pair %s, %s: %w", f.Cert, f.Key, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ServerTLS returns a server's TLS config (TLS 1.3 minimum). With f.CA set,
// client certificates are verified against it and asked for with auth;
// without it, auth is ignored and no client certificate is asked for.
func ServerTLS(f TLSFiles, auth tls.ClientAuthType) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("load key pair %s, %s: %w", f.Cert, f.Key, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if f.CA != "" {
		if tc.ClientCAs, err = loadPool(f.CA); err != nil {
			return nil, err
		}
		tc.ClientAuth = auth
	}
	return tc, nil
}

// loadPool reads the PEM certificates of file into a pool.
func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s", ErrNoPEM, file)
	}
	return pool, nil
}
