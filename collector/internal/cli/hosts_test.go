package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
)

// twoHostRun builds a profile root with one run folder holding two hosts'
// captures, copied from the fixtures: host-a the tiny TPU XPlane, host-b a
// real JAX GPU XPlane (with its trace JSON beside it for host-a too, which
// the XPlane wins over).
func twoHostRun(t *testing.T) (root string, events map[string]int64) {
	t.Helper()
	td := fixtures.Dir(t)
	root = t.TempDir()
	run := filepath.Join(root, "plugins", "profile", "2026_02_05_20_15_30")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{
		"tiny/tiny-host.xplane.pb":           "host-a.xplane.pb",
		"tiny/tiny-host.trace.json.gz":       "host-a.trace.json.gz",
		"real/jax-rocm-gemm/tw003.xplane.pb": "host-b.xplane.pb",
	} {
		b, err := os.ReadFile(filepath.Join(td, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, map[string]int64{"host-a": 1472, "host-b": 3782}
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestInspectHosts(t *testing.T) {
	root, events := twoHostRun(t)

	// Without --host, a run with two hosts says how to read them.
	_, errOut, code := runCLI(t, "inspect", root, "-q")
	if code == 0 || !strings.Contains(errOut, "--host all") {
		t.Errorf("inspect of a two-host run without --host: exit %d, %q; want an error naming --host all", code, errOut)
	}

	out, errOut, code := runCLI(t, "inspect", root, "--host", "all", "-q")
	if code != 0 {
		t.Fatalf("inspect --host all: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"== host host-a", "== host host-b", "2 hosts side by side", "HOST", "device busy: "} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --host all lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = runCLI(t, "inspect", root, "--host", "all", "--format", "json", "-q")
	if code != 0 {
		t.Fatalf("inspect --host all --format json: exit %d: %s", code, errOut)
	}
	var doc struct {
		Hosts []struct {
			Host    string `json:"host"`
			File    string `json:"file"`
			Summary struct {
				EventsTotal int64 `json:"events_total"`
				Format      string
			} `json:"summary"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("inspect JSON: %v\n%s", err, out)
	}
	if len(doc.Hosts) != 2 {
		t.Fatalf("hosts = %d, want 2:\n%s", len(doc.Hosts), out)
	}
	for _, h := range doc.Hosts {
		if h.Summary.EventsTotal != events[h.Host] || !strings.HasSuffix(h.File, ".xplane.pb") {
			t.Errorf("host %s: %d events from %s, want %d from its .xplane.pb", h.Host, h.Summary.EventsTotal, h.File, events[h.Host])
		}
	}

	// A list picks some hosts; an unknown one is a usage error.
	out, _, code = runCLI(t, "inspect", root, "--host", "host-b,host-a", "--format", "json", "-q")
	if code != 0 || !strings.Contains(out, `"host-b"`) {
		t.Errorf("inspect --host host-b,host-a: exit %d\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, "inspect", root, "--host", "host-a,nope", "-q"); code != filecmd.ExitUsage || !strings.Contains(errOut, `no host "nope"`) {
		t.Errorf("inspect --host host-a,nope: exit %d, %q; want a usage error naming nope", code, errOut)
	}
}

func TestTrimHosts(t *testing.T) {
	root, events := twoHostRun(t)
	dir := t.TempDir()

	// {host} in OUT.
	pattern := filepath.Join(dir, "pattern", "{host}.xplane.pb")
	out, errOut, code := runCLI(t, "trim", root, "--host", "all", "-o", pattern, "-q")
	if code != 0 {
		t.Fatalf("trim --host all -o {host}: exit %d: %s", code, errOut)
	}
	for host, n := range events {
		p := filepath.Join(dir, "pattern", host+".xplane.pb")
		c, err := load.File(context.Background(), p, load.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("read back %s: %v", p, err)
		}
		if c.EventsKept() == 0 || c.EventsKept() > n {
			t.Errorf("%s: %d events kept of %d", host, c.EventsKept(), n)
		}
	}
	if !strings.Contains(out, "host-a") || !strings.Contains(out, "host-b") {
		t.Errorf("trim output lacks the hosts:\n%s", out)
	}

	// A folder.
	folder := filepath.Join(dir, "folder") + string(filepath.Separator)
	if _, errOut, code := runCLI(t, "trim", root, "--host", "all", "-o", folder, "-q"); code != 0 {
		t.Fatalf("trim --host all -o folder/: exit %d: %s", code, errOut)
	}
	for host := range events {
		if _, err := os.Stat(filepath.Join(folder, host+".trace.json.gz")); err != nil {
			t.Errorf("trim into a folder: %v", err)
		}
	}

	// One file for several hosts is a usage error.
	if _, errOut, code := runCLI(t, "trim", root, "--host", "all", "-o", filepath.Join(dir, "one.trace.json.gz"), "-q"); code != filecmd.ExitUsage || !strings.Contains(errOut, "{host}") {
		t.Errorf("trim --host all -o one file: exit %d, %q; want a usage error", code, errOut)
	}
}

func TestAnalyzeHostsNeedsOutput(t *testing.T) {
	root, _ := twoHostRun(t)
	if _, errOut, code := runCLI(t, "analyze", root, "--host", "all", "--format", "json"); code != filecmd.ExitUsage || !strings.Contains(errOut, "-o DIR") {
		t.Errorf("analyze --host all without -o: exit %d, %q; want a usage error", code, errOut)
	}
}

func TestHostHelpers(t *testing.T) {
	for _, tt := range []struct{ host, want string }{
		{"t1v-n-3d21a6bb-w-0", "t1v-n-3d21a6bb-w-0"},
		{"34.83.195.179:6003", "34.83.195.179_6003"},
		{"../x", ".._x"},
		{"..", "_.."},
	} {
		if got := filecmd.HostDir(tt.host); got != tt.want {
			t.Errorf("hostDir(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
	for _, tt := range []struct {
		out   string
		isDir bool
		want  string
	}{
		{"t/{host}.fpcap", false, "t/h1.fpcap"},
		{"t", true, "t/h1.trace.json.gz"},
	} {
		if got := filecmd.HostOutput(tt.out, "h1", tt.isDir); got != filepath.FromSlash(tt.want) {
			t.Errorf("hostOutput(%q, %v) = %q, want %q", tt.out, tt.isDir, got, tt.want)
		}
	}
	rows := []filecmd.HostRow{{Host: "a"}, {Host: "b", Error: "boom"}}
	if err := filecmd.HostsErr(rows); !errors.Is(err, filecmd.ErrHostsFailed) || !strings.Contains(err.Error(), "1 of 2 (b)") {
		t.Errorf("hostsErr = %v", err)
	}
}
