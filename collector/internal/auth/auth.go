// Package auth holds the collector's API roles and bearer tokens.
//
// A token is "fpt_" followed by 43 base64url characters (32 random bytes).
// It is shown once, when created; the store keeps only its SHA-256, under
// which the token's record (id, name, role) sits. A high-entropy random
// secret needs no slow, salted hash: guessing the token is as hard as
// inverting SHA-256.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Role is what a caller may do. Each role includes the ones below it.
type Role int

// Roles.
const (
	// None may call nothing but the public methods (health).
	None Role = iota
	// Viewer reads: agents, captures, reports, exports, diffs, schedules.
	Viewer
	// Operator also starts captures, runs analyses and manages schedules.
	Operator
	// Admin also manages tokens, retention and restores.
	Admin
)

var roleNames = []string{"none", "viewer", "operator", "admin"}

// String returns the role's name.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole parses viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	i := slices.Index(roleNames, s)
	if i <= 0 {
		return None, fmt.Errorf("%w: %q", ErrBadRole, s)
	}
	return Role(i), nil
}

// TokenPrefix starts every token, so it is recognisable in a leak scan.
const TokenPrefix = "fpt_"

// Errors.
var (
	// ErrBadRole means a role is not viewer, operator or admin.
	ErrBadRole = errors.New("auth: bad role: want viewer, operator or admin")
	// ErrBadToken means a token is unknown, revoked or malformed.
	ErrBadToken = errors.New("auth: invalid or revoked token")
	// ErrBadName means a token's name is empty or too long.
	ErrBadName = errors.New("auth: bad token name: 1-128 printable characters")
)

// Hash is the SHA-256 a token is stored under.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Created is a new token: Token is shown once and never stored.
type Created struct {
	// Token is the bearer token.
	Token string
	// Record is what the store keeps.
	Record store.Token
}

// Create makes a token with role for name and stores its hash.
func Create(ctx context.Context, db *store.DB, name string, role Role) (*Created, error) {
	if role <= None || role > Admin {
		return nil, fmt.Errorf("%w: %v", ErrBadRole, role)
	}
	if !validName(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	var idb [6]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	c := &Created{
		Token: TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:]),
		Record: store.Token{
			ID: "t-" + hex.EncodeToString(idb[:]), Name: name, Role: role.String(), CreatedNS: time.Now().UnixNano(),
		},
	}
	err := db.Update(ctx, func(w *store.Writer) error { return w.PutToken(Hash(c.Token), &c.Record) })
	if err != nil {
		return nil, fmt.Errorf("store token: %w", err)
	}
	return c, nil
}

// Lookup returns the role and record of a token, or ErrBadToken.
func Lookup(ctx context.Context, db *store.DB, token string) (Role, *store.Token, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 256 {
		return None, nil, ErrBadToken
	}
	var t *store.Token
	err := db.View(ctx, func(r *store.Reader) error {
		var err error
		t, err = r.TokenByHash(Hash(token))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return None, nil, ErrBadToken
	}
	if err != nil {
		return None, nil, err
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return None, nil, fmt.Errorf("token %s: %w", t.ID, err)
	}
	return role, t, nil
}

// List returns every token record, oldest first.
func List(ctx context.Context, db *store.DB) ([]store.Token, error) {
	var out []store.Token
	err := db.View(ctx, func(r *store.Reader) error {
		var err error
		out, err = r.Tokens()
		return err
	})
	slices.SortFunc(out, func(a, b store.Token) int {
		if a.CreatedNS != b.CreatedNS {
			return int(min(max(a.CreatedNS-b.CreatedNS, -1), 1))
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// Revoke deletes the token with that id: it stops working at once.
func Revoke(ctx context.Context, db *store.DB, id string) (*store.Token, error) {
	var t *store.Token
	err := db.Update(ctx, func(w *store.Writer) error {
		var err error
		t, err = w.DeleteToken(id)
		return err
	})
	return t, err
}

// Any reports whether any token exists (no token: loopback development mode
// may apply, see the server).
func Any(ctx context.Context, db *store.DB) (bool, error) {
	var found bool
	err := db.View(ctx, func(r *store.Reader) error { found = r.HasTokens(); return nil })
	return found, err
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
}
