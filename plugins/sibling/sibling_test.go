package sibling

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	// Beside the running binary (the test's, in go test's own folder).
	beside := filepath.Join(filepath.Dir(exe), "fleetprof-sibling-test")
	if err := os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Skipf("cannot write beside the test binary: %v", err)
	}
	t.Cleanup(func() { os.Remove(beside) })
	t.Setenv("PATH", "")
	if got, err := Find("fleetprof-sibling-test"); err != nil || got != beside {
		t.Errorf("Find beside = %q, %v; want %q", got, err, beside)
	}
	// On PATH.
	dir := t.TempDir()
	onPath := filepath.Join(dir, "fleetprof-sibling-path")
	if err := os.WriteFile(onPath, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got, err := Find("fleetprof-sibling-path"); err != nil || got != onPath {
		t.Errorf("Find on PATH = %q, %v; want %q", got, err, onPath)
	}
	// Nowhere; a folder of that name beside the binary does not count.
	if err := os.Mkdir(filepath.Join(filepath.Dir(exe), "fleetprof-sibling-dir"), 0o755); err == nil {
		t.Cleanup(func() { os.Remove(filepath.Join(filepath.Dir(exe), "fleetprof-sibling-dir")) })
	}
	for _, name := range []string{"fleetprof-no-such-binary", "fleetprof-sibling-dir"} {
		if _, err := Find(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %v, want ErrNotFound", name, err)
		}
	}
}
