package e2e

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoadSmoke runs the load generator of `make bench`
// (integration/bench/load.sh) at a tiny scale against a real collector, so
// the tool keeps working: 50 agents, bursts of 5 uploads, for 3 s; it
// exits non-zero if any capture is lost or duplicated.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("real binaries")
	}
	ctx := deadline(t, 90*time.Second)
	dir := t.TempDir()
	pb, fp := filepath.Join(dir, "gen.xplane.pb"), filepath.Join(dir, "capture.fpcap")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bins, name), args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run("fleetprof-gen", "-q", "-o", pb, "-events", "20000", "-devices", "1", "-bursts", "2")
	run("fleetprof", "trim", "-q", pb, "-o", fp)
	c := newCollector(ctx, t, filepath.Join(dir, "no-plugins"), "--heartbeat", "1s")
	out := run("loadgen", "--collector", c.addr, "--collector-pid", strconv.Itoa(c.p.cmd.Process.Pid), "--agents", "50",
		"--burst", "5", "--burst-interval", "200ms", "--duration", "3s", "--capture", fp, "--connect-rate", "200")
	for _, want := range []string{
		"| agents connected (min during the run / at the end) | 50 / 50 of 50 |",
		"| upload errors / retried attempts / control stream errors | 0 / 0 / 0 |",
		"| collector RSS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("loadgen output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| captures lost / duplicated") && !strings.HasSuffix(line, "| 0 / 0 |") {
			t.Errorf("lost or duplicated captures: %s", line)
		}
	}
}
