package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// TestAnalyzeHosts runs `fleetprof analyze --host all` on a run folder that
// holds two hosts (copied fixtures): one report per host, from real plugin
// processes, and a side-by-side summary.
func TestAnalyzeHosts(t *testing.T) {
	td := fixtures.Dir(t)
	root := t.TempDir()
	run := filepath.Join(root, "plugins", "profile", "2026_02_05_20_15_30")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]struct {
		from   string
		events int64
	}{
		"t1v-n-0-w-0": {"tiny/tiny-host.xplane.pb", 1472},
		"t1v-n-0-w-1": {"real/jax-rocm-gemm/tw003.xplane.pb", 3782},
	}
	for host, h := range hosts {
		b, err := os.ReadFile(filepath.Join(td, h.from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, host+".xplane.pb"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	stdout, stderr, code := fleetprof(t, "analyze", root, "--host", "all", "-o", out, "--format", "md,json", "--plugins", filepath.Join(bins, "plugins"), "-q")
	if code != 0 {
		t.Fatalf("analyze --host all: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for host, h := range hosts {
		b, err := os.ReadFile(filepath.Join(out, host, "report.json"))
		if err != nil {
			t.Fatalf("host %s report: %v", host, err)
		}
		var rep struct {
			Summary struct {
				EventsTotal int64 `json:"events_total"`
			} `json:"summary"`
			Sections map[string]struct {
				Rows  []map[string]any `json:"rows"`
				Error string           `json:"error"`
			} `json:"sections"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Summary.EventsTotal != h.events || len(rep.Sections["top_ops"].Rows) == 0 || rep.Sections["top_ops"].Error != "" {
			t.Errorf("host %s report: %d events, %d top ops (error %q); want %d events and top ops",
				host, rep.Summary.EventsTotal, len(rep.Sections["top_ops"].Rows), rep.Sections["top_ops"].Error, h.events)
		}
		if _, err := os.Stat(filepath.Join(out, host, "report.md")); err != nil {
			t.Errorf("host %s: %v", host, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[t1v-n-0-w-0](t1v-n-0-w-0/report.md)", "[t1v-n-0-w-1](t1v-n-0-w-1/report.md)", "Device busy: "} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	var sum struct {
		Hosts []struct {
			Host        string `json:"host"`
			EventsTotal int64  `json:"events_total"`
			TopOp       string `json:"top_op"`
			Error       string `json:"error"`
		} `json:"hosts"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Hosts) != 2 {
		t.Fatalf("summary.json hosts = %d, want 2", len(sum.Hosts))
	}
	for _, h := range sum.Hosts {
		if h.Error != "" || h.EventsTotal != hosts[h.Host].events || h.TopOp == "" {
			t.Errorf("summary.json host %+v", h)
		}
	}
	if !strings.Contains(stdout, "TOP COMPONENT") || !strings.Contains(stdout, "t1v-n-0-w-1") {
		t.Errorf("stdout lacks the side-by-side table:\n%s", stdout)
	}
}
