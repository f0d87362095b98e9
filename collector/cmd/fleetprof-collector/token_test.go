package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

func TestTokenOffline(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := tokenMain(ctx, args, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := run("create", "--data", data, "--role", "admin", "--name", "bootstrap")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	tok := strings.SplitN(out, "\n", 2)[0]
	if !regexp.MustCompile(`^fpt_[A-Za-z0-9_-]{43}$`).MatchString(tok) {
		t.Fatalf("create printed %q, want a token first", out)
	}
	out, _, code = run("list", "--data", data)
	if code != 0 || !strings.Contains(out, "bootstrap") || !strings.Contains(out, "admin") || strings.Contains(out, tok) {
		t.Errorf("list: exit %d:\n%s", code, out)
	}
	id := regexp.MustCompile(`t-[0-9a-f]{12}`).FindString(out)

	// The collector accepts the token as admin.
	db, err := store.Open(filepath.Join(data, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	role, _, err := auth.Lookup(ctx, db, tok)
	if err != nil || role != auth.Admin {
		t.Errorf("Lookup = %v, %v, want admin", role, err)
	}
	// While the database is open (a running collector), the command says so.
	_, errOut, code = run("list", "--data", data)
	if code != 1 || !strings.Contains(errOut, "in use") {
		t.Errorf("list on an open database: exit %d: %s", code, errOut)
	}
	db.Close()

	out, _, code = run("revoke", "--data", data, id)
	if code != 0 || !strings.Contains(out, "revoked token "+id) {
		t.Errorf("revoke: exit %d: %s", code, out)
	}
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"create", "--data", data}, {"create", "--data", data, "--role", "root", "--name", "x"},
		{"create", "--role", "admin", "--name", "x"}, {"revoke", "--data", data}, {"list", "--data", data, "extra"},
	} {
		if _, _, code := run(args...); code != 2 {
			t.Errorf("token %q: exit %d, want 2", args, code)
		}
	}
}
