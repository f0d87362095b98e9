// Package ids is the one definition of fleetprof's ids, shared by the agent
// and the collector as part of their protocol: capture ids (and the other
// ids that become file names, bbolt keys or object names: fleet and
// schedule ids), agent ids, and the identity a certificate carries.
//
// It is written by hand; it sits beside the generated packages of
// proto/fleetprof and `buf generate` leaves it alone.
//
// A capture id that passes can be joined to a folder or a bucket prefix
// without escaping it: it is 1–128 bytes of [A-Za-z0-9._-], starts with a
// letter or a digit (so it is never ".", "..", a hidden file or a
// command-line flag) and holds no "..".
//
// An agent id follows the same rule: it becomes part of capture ids (a fleet
// capture's part is <fleet id>.<agent id>), file names and label values, so
// it must be a valid capture-id component. It may hold '.' (host names are
// the default agent ids): fleet ids never hold one, nothing splits a capture
// id to recover the agent (the agent is stored with the capture), and the
// collector maps every byte other than [A-Za-z0-9_-] of an agent id to '_'
// when it builds a fleet capture's part id.
package ids

import (
	"errors"
	"fmt"
)

// MaxLen is the longest valid id, in bytes.
const MaxLen = 128

// Errors.
var (
	// ErrBad means an id is not a valid capture id.
	ErrBad = errors.New("ids: bad id: use 1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, with no \"..\"")
	// ErrBadAgent means an id is not a valid agent id.
	ErrBadAgent = errors.New("ids: bad agent id: use 1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, with no \"..\"")
	// ErrNoIdentity means a certificate names no fleetprof identity: it
	// has no spiffe://fleetprof/ URI and no common name.
	ErrNoIdentity = errors.New("ids: the certificate names no identity: no spiffe://fleetprof/ URI and no common name")
	// ErrBadIdentity means a certificate's spiffe://fleetprof/ URI is
	// malformed, names a bad id or role, or is not the only one.
	ErrBadIdentity = errors.New("ids: bad identity URI: want one spiffe://fleetprof/agent/<agent id>, spiffe://fleetprof/collector/<name> or spiffe://fleetprof/client/<role>/<name>")
	// ErrNotAgent means a certificate is a collector's or a client's, not
	// an agent's.
	ErrNotAgent = errors.New("ids: not an agent certificate: want spiffe://fleetprof/agent/<agent id>")
)

// Valid reports whether id is a valid capture id.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen || !alnum(id[0]) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case alnum(c), c == '_', c == '-':
		case c == '.':
			if i+1 < len(id) && id[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Check returns nil for a valid id, else ErrBad naming the id (quoted, so
// control bytes show escaped).
func Check(id string) error {
	if Valid(id) {
		return nil
	}
	return bad(ErrBad, id)
}

// ValidAgent reports whether id is a valid agent id: the capture-id rule
// (see the package documentation).
func ValidAgent(id string) bool { return Valid(id) }

// CheckAgent returns nil for a valid agent id, else ErrBadAgent naming the
// id (quoted, so control bytes show escaped).
func CheckAgent(id string) error {
	if ValidAgent(id) {
		return nil
	}
	return bad(ErrBadAgent, id)
}

// bad wraps sentinel with id quoted, or with its length when it is too long
// to print.
func bad(sentinel error, id string) error {
	if len(id) > MaxLen {
		return fmt.Errorf("%w: %d bytes", sentinel, len(id))
	}
	return fmt.Errorf("%w: %q", sentinel, id)
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
