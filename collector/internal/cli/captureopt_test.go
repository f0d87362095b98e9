package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
)

// TestCaptureOptionFlags: capture and schedule add take the capture options
// with one name, default and help each.
func TestCaptureOptionFlags(t *testing.T) {
	root := newRoot(&env{Stdout: io.Discard, Stderr: io.Discard})
	capture, _, err := root.Find([]string{"capture"})
	if err != nil {
		t.Fatal(err)
	}
	add, _, err := root.Find([]string{"schedule", "add"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range captureopt.Names() {
		c, a := capture.Flags().Lookup(name), add.Flags().Lookup(name)
		if c == nil || a == nil {
			t.Errorf("--%s: capture has it %v, schedule add %v; want both", name, c != nil, a != nil)
			continue
		}
		if c.DefValue != a.DefValue || c.Usage != a.Usage {
			t.Errorf("--%s: capture (default %q, %q), schedule add (default %q, %q); want the same", name, c.DefValue, c.Usage, a.DefValue, a.Usage)
		}
	}
}

// TestCaptureRequest: the request carries unset levels as -1, and bad
// options are usage errors named by their flag, before any dialing.
func TestCaptureRequest(t *testing.T) {
	f := captureFlags{opts: captureopt.Defaults(), selector: "model=qwen3"}
	req, err := f.request()
	if err != nil {
		t.Fatal(err)
	}
	if o := req.GetOptions(); o.GetHostTracerLevel() != -1 || o.GetDeviceTracerLevel() != -1 || o.GetPythonTracerLevel() != -1 || o.GetDurationMs() != 0 || o.GetWorkload() != nil {
		t.Errorf("default options = %v, want levels -1, no duration, no workload", o)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--device-tracer-level", "0"}, "--device-tracer-level 0"},
		{[]string{"--host-tracer-level", "4"}, "--host-tracer-level 4"},
		{[]string{"--steps", "-1"}, "--steps -1"},
		{[]string{"--backend", "ftp"}, "--backend"},
	} {
		for _, verb := range [][]string{{"capture"}, {"schedule", "add", "s", "--cron", "@hourly"}} {
			args := append(append(verb, "--collector=127.0.0.1:1", "--selector", "model=qwen3"), tt.args...)
			_, errOut, code := fleetprof(t, args...)
			if code != filecmd.ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("fleetprof %q: exit %d, stderr %q; want %d naming %q", args, code, errOut, filecmd.ExitUsage, tt.want)
			}
		}
	}
}
