package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/integration/bolttest"
)

// TestCheckCommand: `fleetprof-collector check` on a sound, a truncated, a
// 0-byte and a missing database (issue 13 finding 6).
func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	run := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := checkMain(ctx, args, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	data := t.TempDir()
	db, err := store.Open(filepath.Join(data, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := auth.Create(ctx, db, "t"+strings.Repeat("x", i%50), auth.Viewer); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if out, errOut, code := run("--data", data); code != 0 || !strings.Contains(out, "consistent") {
		t.Errorf("check of a sound database: exit %d\n%s%s", code, out, errOut)
	}
	path := filepath.Join(data, store.FileName)
	b, _ := os.ReadFile(path)
	for _, tt := range []struct {
		name string
		file []byte // nil: no file
		want string
	}{
		// Half of the pages in use: the file itself is longer (bbolt grows
		// it in steps), and a cut in that tail loses nothing.
		{"truncated", b[:bolttest.UsedBytes(t, path)/2/4096*4096], "truncated"},
		{"0 bytes", []byte{}, "empty (0 bytes)"},
		{"missing", nil, "no such file"},
	} {
		os.Remove(path)
		if tt.file != nil {
			if err := os.WriteFile(path, tt.file, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		out, errOut, code := run("--data", data, "--timeout", "1m")
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("check of a %s database: exit %d, want 1 with %q\n%s%s", tt.name, code, tt.want, out, errOut)
		}
		if tt.name != "missing" && !strings.Contains(errOut, "fleetprof-collector restore") {
			t.Errorf("check of a %s database does not say how to restore:\n%s", tt.name, errOut)
		}
	}
	if _, _, code := run(); code != 2 {
		t.Errorf("check without --data: exit %d, want 2", code)
	}
}
