// Package certs makes a development certificate authority and the
// certificates fleetprof's mTLS needs.
//
// Every leaf carries its identity as a URI SAN (ids.URI):
//
//	spiffe://fleetprof/agent/<agent id>        an agent (client auth)
//	spiffe://fleetprof/collector/<name>        a collector (server auth)
//	spiffe://fleetprof/client/<role>/<name>    a person or tool (client auth)
//
// and its name as the subject's common name. Both sides read it with
// ids.IdentityOf: the URI, or, for a certificate with no fleetprof URI (from
// another PKI), the common name as an agent id.
//
// Files in the folder: ca.pem and ca-key.pem, then <name>.pem and
// <name>-key.pem per issued certificate. Keys are ECDSA P-256, PKCS #8,
// mode 0600; existing files are never overwritten unless asked.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// File names in the folder.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// Defaults.
const (
	// CAValidity is how long the development CA is valid.
	CAValidity = 365 * 24 * time.Hour
	// DefaultValidity is how long an issued certificate is valid (never
	// past the CA).
	DefaultValidity = 365 * 24 * time.Hour
)

// Errors.
var (
	// ErrExists means a file would be overwritten; pass Force to replace it.
	ErrExists = errors.New("certs: file exists (use --force to replace it)")
	// ErrNoCA means the folder holds no CA: run `fleetprof certs init` first.
	ErrNoCA = errors.New("certs: no CA in the folder: run 'fleetprof certs init --dir DIR' first")
	// ErrBadRequest means an Issue request is incomplete or contradictory.
	ErrBadRequest = errors.New("certs: bad request")
)

// CA is a loaded certificate authority.
type CA struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

// Init creates a new CA in dir (ca.pem, ca-key.pem). force replaces an
// existing one (every certificate it issued stops being trusted).
func Init(dir string, force bool, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs init %s: %w", dir, err)
	}
	if err := free(dir, force, CAFile, CAKeyFile); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fleetprof development CA", Organization: []string{"fleetprof"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if err := writePair(dir, CAFile, CAKeyFile, der, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key, dir: dir}, nil
}

// Load reads the CA in dir.
func Load(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNoCA, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("certs: %s or %s is not PEM", CAFile, CAKeyFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", CAFile, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", CAKeyFile, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("certs: %s does not hold the key of %s", CAKeyFile, CAFile)
	}
	return &CA{Cert: cert, key: key, dir: dir}, nil
}

// Request asks for a certificate.
type Request struct {
	// Name names the files (<name>.pem, <name>-key.pem) and is the subject's
	// common name. Required: a valid id (ids.Valid).
	Name string
	// Kind is agent, collector or client. Required.
	Kind ids.Kind
	// Hosts are the DNS names and IP addresses of a collector certificate.
	// Empty means localhost, 127.0.0.1 and ::1.
	Hosts []string
	// AgentID is an agent certificate's identity (ids.ValidAgent). Empty
	// means Name.
	AgentID string
	// Role is a client certificate's role. Empty means viewer.
	Role string
	// Validity is how long it is valid, capped by the CA. Zero means
	// DefaultValidity.
	Validity time.Duration
	// Force replaces existing files.
	Force bool
}

// Issued is a written certificate.
type Issued struct {
	// Cert is the certificate.
	Cert *x509.Certificate
	// CertFile and KeyFile are the files written.
	CertFile, KeyFile string
}

// Issue signs a certificate for req and writes it and its key to the CA's
// folder.
func (ca *CA) Issue(req Request, now time.Time) (*Issued, error) {
	tmpl, err := template(req)
	if err != nil {
		return nil, err
	}
	certFile, keyFile := req.Name+".pem", req.Name+"-key.pem"
	if req.Name+".pem" == CAFile || req.Name+"-key.pem" == CAKeyFile || req.Name == "ca" {
		return nil, fmt.Errorf("%w: the name %q is the CA's", ErrBadRequest, req.Name)
	}
	if err := free(ca.dir, req.Force, certFile, keyFile); err != nil {
		return nil, err
	}
	validity := req.Validity
	if validity <= 0 {
		validity = DefaultValidity
	}
	tmpl.NotBefore = now.Add(-5 * time.Minute)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	if !tmpl.NotAfter.After(now) {
		return nil, fmt.Errorf("%w: the CA expired on %s: make a new one", ErrBadRequest, ca.Cert.NotAfter.Format(time.DateOnly))
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	if err := writePair(ca.dir, certFile, keyFile, der, key); err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, CertFile: filepath.Join(ca.dir, certFile), KeyFile: filepath.Join(ca.dir, keyFile)}, nil
}

// template checks req and returns the certificate's template without its
// times and serial.
func template(req Request) (*x509.Certificate, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	if err := ids.Check(req.Name); err != nil {
		return nil, fmt.Errorf("%w: name: %w", ErrBadRequest, err)
	}
	tmpl := &x509.Certificate{
		Subject:  pkix.Name{CommonName: req.Name, Organization: []string{"fleetprof"}},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	switch req.Kind {
	case ids.Agent:
		id := req.AgentID
		if id == "" {
			id = req.Name
		}
		if err := ids.CheckAgent(id); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if len(req.Hosts) > 0 || req.Role != "" {
			return nil, bad("--host and --role are not for agent certificates")
		}
		tmpl.Subject.CommonName = id
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.URIs = []*url.URL{ids.URI(ids.Agent, id)}
	case ids.Collector:
		if req.AgentID != "" || req.Role != "" {
			return nil, bad("--agent-id and --role are not for collector certificates")
		}
		hosts := req.Hosts
		if len(hosts) == 0 {
			hosts = []string{"localhost", "127.0.0.1", "::1"}
		}
		for _, h := range hosts {
			h = strings.TrimSpace(h)
			switch ip := net.ParseIP(h); {
			case ip != nil:
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			case h != "" && !strings.ContainsAny(h, "/ :"):
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			default:
				return nil, bad("host %q is neither a DNS name nor an IP address", h)
			}
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.URIs = []*url.URL{ids.URI(ids.Collector, req.Name)}
	case ids.Client:
		if req.AgentID != "" || len(req.Hosts) > 0 {
			return nil, bad("--agent-id and --host are not for client certificates")
		}
		role := req.Role
		if role == "" {
			role = "viewer"
		}
		if !ids.ValidRole(role) {
			return nil, bad("role %q: want viewer, operator or admin", role)
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.URIs = []*url.URL{ids.URI(ids.Client, role+"/"+req.Name)}
	default:
		return nil, bad("kind %q: want agent, collector or client", req.Kind)
	}
	return tmpl, nil
}

// free returns ErrExists if any of names exists in dir and force is false.
func free(dir string, force bool, names ...string) error {
	if force {
		return nil
	}
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, n))
		}
	}
	return nil
}

// writePair writes a certificate (0644) and its key (0600), each through a
// temporary file renamed into place.
func writePair(dir, certName, keyName string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := writeFile(filepath.Join(dir, keyName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, certName), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes data to path atomically and durably (renameio: a temp
// file beside it, fsynced, renamed over it), with exactly mode: the umask
// may have narrowed a 0644, and a key must not keep a wider mode it had.
func writeFile(path string, data []byte, mode os.FileMode) error {
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(mode))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup()
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// newSerial returns a random 128-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
