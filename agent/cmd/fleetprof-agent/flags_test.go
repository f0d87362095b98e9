package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/plugins/captureopt"
)

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("labels:\n  model: qwen3\n  zone: from-file\nspool:\n  max_bytes: 1GiB\ncapture:\n  duration: 3s\n  device_tracer_level: 2\n  keep_raw: true\n  workload_endpoint: /v1/score\n  workload_body: body.json\n  requests: 5\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("capture:\n  backend: ftp\n"), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{"daemon attach", []string{"--collector", "c:7070", "--attach", "http://127.0.0.1:30000", "--label", "a=b", "--label", "c=d"}, "",
			func(t *testing.T, c *Config) {
				if c.Mode != "daemon" || c.Labels["a"] != "b" || c.Labels["c"] != "d" || c.Capture != captureopt.Defaults() {
					t.Errorf("cfg = %+v", c)
				}
			}},
		{"host and id from the machine", []string{"--collector", "c:7070", "--attach", "http://h:1"}, "",
			func(t *testing.T, c *Config) {
				if h, _ := os.Hostname(); c.Host != h || c.ID != h {
					t.Errorf("host %q, id %q; want the machine's host name %q for both", c.Host, c.ID, h)
				}
			}},
		{"--host names the id too", []string{"--collector", "c:7070", "--attach", "http://h:1", "--host", "t1v-n-demoa-w-0"}, "",
			func(t *testing.T, c *Config) {
				if c.Host != "t1v-n-demoa-w-0" || c.ID != "t1v-n-demoa-w-0" {
					t.Errorf("host %q, id %q; want t1v-n-demoa-w-0 for both", c.Host, c.ID)
				}
			}},
		{"--id and --host", []string{"--collector", "c:7070", "--attach", "http://h:1", "--host", "h1", "--id", "a1"}, "",
			func(t *testing.T, c *Config) {
				if c.Host != "h1" || c.ID != "a1" {
					t.Errorf("host %q, id %q; want h1, a1", c.Host, c.ID)
				}
			}},
		{"wrap", []string{"--collector", "127.0.0.1:7070", "--insecure", "--wrap", "--", "python", "-m", "sgl_jax.launch_server", "--port", "30000"}, "",
			func(t *testing.T, c *Config) {
				if !slices.Equal(c.Wrap, []string{"python", "-m", "sgl_jax.launch_server", "--port", "30000"}) || c.Attach != "http://127.0.0.1:30000" {
					t.Errorf("Wrap = %q, Attach = %q", c.Wrap, c.Attach)
				}
			}},
		{"capture", []string{"capture", "--attach", "http://h:1", "--duration", "2s", "--device-tracer-level", "1", "-o", "out"}, "",
			func(t *testing.T, c *Config) {
				if c.Mode != "capture" || c.Capture.Duration != 2*time.Second || c.Capture.DeviceTracerLevel != 1 || c.Out != "out" {
					t.Errorf("cfg = %+v", c)
				}
			}},
		{"policy", []string{"capture", "--attach", "http://h:1", "-o", "o", "--config", policy, "--label", "zone=flag"}, "",
			func(t *testing.T, c *Config) {
				o := c.Capture
				if c.Labels["model"] != "qwen3" || c.Labels["zone"] != "flag" || c.SpoolMax != 1<<30 || o.Duration != 3*time.Second ||
					o.DeviceTracerLevel != 2 || o.Requests != 5 || o.WorkloadBody != filepath.Join(dir, "body.json") || !o.KeepRaw || o.Warmups != 1 {
					t.Errorf("cfg = %+v", c)
				}
			}},
		{"flag beats policy", []string{"capture", "--attach", "http://h:1", "-o", "o", "--config", policy, "--duration", "1s"}, "",
			func(t *testing.T, c *Config) {
				if c.Capture.Duration != time.Second {
					t.Errorf("Duration = %v, want the flag's 1s", c.Capture.Duration)
				}
			}},
		{"flag set to its default beats policy", []string{"capture", "--attach", "http://h:1", "-o", "o", "--config", policy,
			"--device-tracer-level", "-1", "--keep-raw=false", "--requests", "2"}, "",
			func(t *testing.T, c *Config) {
				o := c.Capture
				if o.DeviceTracerLevel != -1 || o.KeepRaw || o.Requests != 2 || o.Duration != 3*time.Second || o.WorkloadBody != filepath.Join(dir, "body.json") {
					t.Errorf("Capture = %+v, want the flags' -1, false and 2, the rest from the policy", o)
				}
			}},
		{"deprecated --num-steps", []string{"capture", "--attach", "http://h:1", "-o", "o", "--num-steps", "3"}, "",
			func(t *testing.T, c *Config) {
				if c.Capture.Steps != 3 {
					t.Errorf("Steps = %d, want 3 from --num-steps", c.Capture.Steps)
				}
			}},
		{"--steps", []string{"capture", "--attach", "http://h:1", "-o", "o", "--steps", "4"}, "",
			func(t *testing.T, c *Config) {
				if c.Capture.Steps != 4 {
					t.Errorf("Steps = %d, want 4", c.Capture.Steps)
				}
			}},
		{"negative steps", []string{"capture", "--attach", "http://h:1", "-o", "x", "--steps", "-1"}, "--steps -1", nil},
		{"addr file", []string{"--collector", "c:7070", "--attach", "http://h:1", "--http", "127.0.0.1:0", "--addr-file", "a.json"}, "",
			func(t *testing.T, c *Config) {
				if c.HTTPAddr != "127.0.0.1:0" || c.AddrFile != "a.json" {
					t.Errorf("HTTPAddr %q, AddrFile %q", c.HTTPAddr, c.AddrFile)
				}
			}},
		{"addr file in capture", []string{"capture", "--attach", "http://h:1", "-o", "x", "--addr-file", "a.json"}, "--addr-file", nil},
		{"bad policy", []string{"capture", "--attach", "http://h:1", "-o", "o", "--config", bad}, "capture.backend", nil},
		{"no server", []string{"--collector", "c:1"}, "no model server", nil},
		{"no collector", []string{"--attach", "http://h:1"}, "no --collector", nil},
		{"capture without -o", []string{"capture", "--attach", "http://h:1"}, "-o DIR", nil},
		{"capture with collector", []string{"capture", "--attach", "http://h:1", "-o", "x", "--collector", "c:1"}, "standalone", nil},
		{"insecure remote", []string{"--collector", "10.0.0.5:7070", "--insecure", "--attach", "http://h:1"}, "loopback", nil},
		{"wrap without command", []string{"--collector", "c:1", "--wrap"}, "after --", nil},
		{"command without wrap", []string{"--collector", "c:1", "--", "python"}, "needs --wrap", nil},
		{"bad level", []string{"capture", "--attach", "http://h:1", "-o", "x", "--device-tracer-level", "3"}, "device-tracer-level", nil},
		{"grpc without addr", []string{"capture", "--attach", "http://h:1", "-o", "x", "--backend", "grpc"}, "--profiler-addr", nil},
		{"cert without key", []string{"--collector", "c:1", "--attach", "http://h:1", "--tls-cert", "a.pem"}, "go together", nil},
		{"bad label", []string{"--collector", "c:1", "--attach", "http://h:1", "--label", "novalue"}, "key=value", nil},
		{"bad size", []string{"--collector", "c:1", "--attach", "http://h:1", "--spool-max-bytes", "lots"}, "not a size", nil},
		{"stray args", []string{"--collector", "c:1", "--attach", "http://h:1", "python"}, "unexpected arguments", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q) = %v", tt.args, err)
			}
			tt.check(t, c)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"capture", "--help"}} {
		var b strings.Builder
		_, err := parseFlags(args, &b)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("parseFlags(%q) = %v, want ErrHelp", args, err)
		}
		for _, want := range []string{"Usage:", "--wrap", "-workload-body", "Example"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("help for %q lacks %q", args, want)
			}
		}
		// Flags spelled as the README writes them; each default said once.
		if strings.Contains(b.String(), "\n  -wrap") {
			t.Errorf("help for %q spells -wrap, want --wrap", args)
		}
		for line := range strings.Lines(b.String()) {
			if strings.Count(line, "(default ") > 1 {
				t.Errorf("help for %q says the default twice: %q", args, line)
			}
		}
	}
}

// TestDataDirs: raw profiler output stays beside the agent's own data.
func TestDataDirs(t *testing.T) {
	tests := []struct {
		work, spool         string
		wantWork, wantSpool string
	}{
		{"", "", defaultWorkDir, filepath.Join(defaultWorkDir, "spool")},
		{"/data/agent", "", "/data/agent", "/data/agent/spool"},
		{"", "/data/agent-a/spool/", "/data/agent-a", "/data/agent-a/spool/"},
		{"/w", "/s/spool", "/w", "/s/spool"},
	}
	for _, tt := range tests {
		work, sp := dataDirs(&Config{WorkDir: tt.work, SpoolDir: tt.spool})
		if work != tt.wantWork || sp != tt.wantSpool {
			t.Errorf("dataDirs(--work-dir %q, --spool %q) = %q, %q; want %q, %q", tt.work, tt.spool, work, sp, tt.wantWork, tt.wantSpool)
		}
	}
}
