package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the agent binary free of the collector's store, its GCS
// backup, the plugin host and the collector's packages.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on $PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"go.etcd.io/bbolt",
		"cloud.google.com/go/storage",
		"github.com/hashicorp/go-plugin",
		"github.com/fleetprof/fleetprof/collector/",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f) {
				t.Errorf("fleetprof-agent depends on %s (forbidden: %s)", d, f)
			}
		}
	}
}
