package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func TestRoles(t *testing.T) {
	for _, tt := range []struct {
		name string
		want Role
		err  bool
	}{
		{"viewer", Viewer, false}, {"operator", Operator, false}, {"admin", Admin, false},
		{"none", None, true}, {"root", None, true}, {"", None, true}, {"Admin", None, true},
	} {
		got, err := ParseRole(tt.name)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseRole(%q) = %v, %v, want %v (error %v)", tt.name, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBadRole) {
			t.Errorf("ParseRole(%q) error %v, want ErrBadRole", tt.name, err)
		}
	}
	// The proto enum and the roles line up (the API converts by number).
	for r, want := range map[Role]collectorv1.Role{Viewer: collectorv1.Role_ROLE_VIEWER, Operator: collectorv1.Role_ROLE_OPERATOR, Admin: collectorv1.Role_ROLE_ADMIN} {
		if collectorv1.Role(r) != want || "ROLE_"+strings.ToUpper(r.String()) != want.String() {
			t.Errorf("role %v is %v in the proto, want %v", r, collectorv1.Role(r), want)
		}
	}
	if !(Viewer < Operator && Operator < Admin) {
		t.Error("roles are not ordered")
	}
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	if found, _ := Any(ctx, db); found {
		t.Error("Any on an empty store = true")
	}
	c, err := Create(ctx, db, "alice", Operator)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^fpt_[A-Za-z0-9_-]{43}$`).MatchString(c.Token) {
		t.Errorf("token %q does not look like fpt_ + 43 base64url characters", c.Token)
	}
	if c2, _ := Create(ctx, db, "alice", Operator); c2.Token == c.Token || c2.Record.ID == c.Record.ID {
		t.Error("two tokens are the same")
	}
	role, rec, err := Lookup(ctx, db, c.Token)
	if err != nil || role != Operator || rec.ID != c.Record.ID || rec.Name != "alice" {
		t.Errorf("Lookup = %v, %+v, %v; want operator alice", role, rec, err)
	}
	for _, bad := range []string{"", "fpt_", c.Token + "x", strings.TrimPrefix(c.Token, TokenPrefix), "fpt_" + strings.Repeat("A", 300)} {
		if _, _, err := Lookup(ctx, db, bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("Lookup(%q) = %v, want ErrBadToken", bad, err)
		}
	}
	ts, err := List(ctx, db)
	if err != nil || len(ts) != 2 {
		t.Fatalf("List = %d, %v; want 2", len(ts), err)
	}
	if _, err := Revoke(ctx, db, c.Record.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Lookup(ctx, db, c.Token); !errors.Is(err, ErrBadToken) {
		t.Errorf("Lookup after Revoke = %v, want ErrBadToken", err)
	}
	if _, err := Revoke(ctx, db, c.Record.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revoke twice = %v, want ErrNotFound", err)
	}
	for _, tt := range []struct {
		name string
		role Role
		want error
	}{{"", Viewer, ErrBadName}, {"a\x00b", Viewer, ErrBadName}, {strings.Repeat("n", 129), Viewer, ErrBadName}, {"x", None, ErrBadRole}, {"x", Admin + 1, ErrBadRole}} {
		if _, err := Create(ctx, db, tt.name, tt.role); !errors.Is(err, tt.want) {
			t.Errorf("Create(%q, %v) = %v, want %v", tt.name, tt.role, err, tt.want)
		}
	}
}
