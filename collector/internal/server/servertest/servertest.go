// Package servertest runs a collector in-process for the tests of the
// packages around it (the command line, the web UI): the real server on
// loopback, with the real analyzer plugins when a test needs reports.
package servertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/server"
	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// Start makes a collector of cfg and runs it until the test ends or the
// returned stop is called (stop waits for Run to return, and can be called
// more than once). An error from New fails the test, and one from Run is
// reported with t.Errorf.
func Start(t testing.TB, cfg server.Config) (srv *server.Server, stop func()) {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("collector: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// BuildPlugins builds the built-in analyzers (the module's ./plugins/cmd/...)
// into a fresh folder with their plugins.sha256 allowlist, and returns the
// folder, for Config.PluginsDir.
func BuildPlugins(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./plugins/cmd/...")
	cmd.Dir = fixtures.Root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugins: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var allow bytes.Buffer
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&allow, "%s  %s\n", hex.EncodeToString(sum[:]), e.Name())
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins.sha256"), allow.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
