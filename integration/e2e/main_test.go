// Package e2e holds end-to-end tests that build fleetprof's real binaries
// once and run them as a user would, on loopback only.
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// bins is where TestMain built the binaries; plugins is bins/plugins.
var bins string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fleetprof-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins = dir
	root := repoRoot()
	build := func(out string, pkgs ...string) error {
		args := append([]string{"build", "-o", out + string(os.PathSeparator)}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	// The CLI, and the daemons the fleet tests run (fleet_test.go).
	if err := build(dir, "./collector/cmd/fleetprof", "./collector/cmd/fleetprof-cli", "./collector/cmd/fleetprof-collector",
		"./agent/cmd/fleetprof-agent", "./integration/cmd/fleetprof-simserver", "./integration/cmd/fleetprof-gcsemu",
		"./integration/cmd/fleetprof-gen", "./integration/bench/loadgen"); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	// The plugin host tests' plugin: copies of it crash and hang (faults_test.go).
	if err := build(dir, "./collector/internal/pluginhost/testdata/testplugin"); err != nil {
		fmt.Fprintln(os.Stderr, "build testplugin:", err)
		return 1
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := build(plugins, "./plugins/cmd/..."); err != nil {
		fmt.Fprintln(os.Stderr, "build plugins:", err)
		return 1
	}
	if err := writeAllowlist(plugins); err != nil {
		fmt.Fprintln(os.Stderr, "allowlist:", err)
		return 1
	}
	return m.Run()
}

// writeAllowlist writes plugins.sha256 for every binary in dir, as
// `make build` does with sha256sum.
func writeAllowlist(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range ents {
		if e.IsDir() || e.Name() == "plugins.sha256" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), e.Name())
	}
	return os.WriteFile(filepath.Join(dir, "plugins.sha256"), []byte(b.String()), 0o644)
}

func repoRoot() string {
	root, err := fixtures.ModuleRoot(".")
	if err != nil {
		return "."
	}
	return root
}

// fleetprof runs the CLI and returns stdout, stderr and the exit code.
func fleetprof(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return runBin(context.Background(), t, "fleetprof", args...)
}
