package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// metadataServer serves instance attributes like the GCE metadata server,
// requiring its Metadata-Flavor header.
func metadataServer(t *testing.T, attrs map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, "/computeMetadata/v1/instance/attributes/")
		v, found := attrs[key]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(v))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/computeMetadata/v1"
}

// TestStartupScript runs deploy/tpu-vm/startup.sh against a fake metadata
// server and a fake gcloud, installing under a temporary root, and checks
// what it writes: the binary (checksum verified), the unit (identical to
// deploy/systemd's), the sysusers file and the agent's options.
func TestStartupScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	script, err := filepath.Abs("tpu-vm/startup.sh")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	binary := []byte("#!/bin/sh\necho fleetprof-agent stand-in\n")
	sum := sha256.Sum256(binary)
	hexSum := hex.EncodeToString(sum[:])
	src := filepath.Join(t.TempDir(), "fleetprof-agent")
	if err := os.WriteFile(src, binary, 0o644); err != nil {
		t.Fatal(err)
	}
	// A fake gcloud: "storage cp SRC DST" copies from the stand-in,
	// "secrets versions access latest --secret NAME" prints a fake PEM.
	fakeBin := t.TempDir()
	gcloud := "#!/bin/sh\ncase \"$1 $2\" in\n" +
		"'storage cp') cp " + src + " \"$5\" ;;\n" +
		"'secrets versions') echo \"PEM $6\" ;;\n" +
		"*) echo \"fake gcloud: $*\" >&2; exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "gcloud"), []byte(gcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"fleetprof-agent-url":    "file://" + src,
		"fleetprof-agent-sha256": hexSum,
		"fleetprof-collector":    "collector.example.internal:7070",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	serverCmd := "/opt/sglang-jax/.venv/bin/python -m sgl_jax.launch_server --model-path Qwen/Qwen3-0.6B --port 30000\n"
	tests := []struct {
		name     string
		attrs    map[string]string
		tlsFiles bool   // agent.pem and ca.pem already in /etc/fleetprof/tls
		wantOpts string // FLEETPROF_AGENT_OPTS, if the script succeeds
		wantErr  string // a message in its output, if it fails
		config   string // the agent.yaml it must write
	}{
		{
			name:     "wrap with labels and flags",
			attrs:    with("fleetprof-id", "my-tpu", "fleetprof-labels", "model=qwen3-0.6b;team=serving", "fleetprof-server-cmd", serverCmd, "fleetprof-agent-flags", "--keep-raw --log-format json"),
			wantOpts: "--collector collector.example.internal:7070 --config /etc/fleetprof/agent.yaml --id my-tpu --label model=qwen3-0.6b --label team=serving --keep-raw --log-format json --wrap -- /opt/sglang-jax/.venv/bin/python -m sgl_jax.launch_server --model-path Qwen/Qwen3-0.6B --port 30000",
			config:   "# Written by startup.sh; every key: deploy/config/agent.yaml.\nspool:\n  dir: /var/lib/fleetprof-agent/spool\n  max_bytes: 10GiB\n",
		},
		{
			name:     "attach to a loopback collector",
			attrs:    with("fleetprof-collector", "127.0.0.1:7070", "fleetprof-attach", "http://127.0.0.1:30000", "fleetprof-agent-config", "labels:\n  team: serving"),
			wantOpts: "--collector 127.0.0.1:7070 --config /etc/fleetprof/agent.yaml --insecure --attach http://127.0.0.1:30000",
			config:   "labels:\n  team: serving\n",
		},
		{
			name:     "certificates already on disk",
			attrs:    with("fleetprof-attach", "http://127.0.0.1:30000"),
			tlsFiles: true,
			wantOpts: "--collector collector.example.internal:7070 --config /etc/fleetprof/agent.yaml --tls-cert /etc/fleetprof/tls/agent.pem --tls-key /etc/fleetprof/tls/agent-key.pem --tls-ca /etc/fleetprof/tls/ca.pem --attach http://127.0.0.1:30000",
		},
		{
			name:     "certificates from Secret Manager, binary from GCS",
			attrs:    with("fleetprof-agent-url", "gs://bucket/fleetprof-agent", "fleetprof-tls-secret", "fleetprof-agent-my-tpu", "fleetprof-server-cmd", serverCmd),
			wantOpts: "--collector collector.example.internal:7070 --config /etc/fleetprof/agent.yaml --tls-cert /etc/fleetprof/tls/agent.pem --tls-key /etc/fleetprof/tls/agent-key.pem --tls-ca /etc/fleetprof/tls/ca.pem --wrap -- /opt/sglang-jax/.venv/bin/python -m sgl_jax.launch_server --model-path Qwen/Qwen3-0.6B --port 30000",
		},
		{name: "wrong checksum", attrs: with("fleetprof-agent-sha256", strings.Repeat("0", 64), "fleetprof-attach", "http://x:1"), wantErr: "has sha256 " + hexSum},
		{name: "no collector", attrs: with("fleetprof-collector", "", "fleetprof-attach", "http://x:1"), wantErr: "fleetprof-collector is not set"},
		{name: "no checksum", attrs: with("fleetprof-agent-sha256", "", "fleetprof-attach", "http://x:1"), wantErr: "fleetprof-agent-sha256 is not set"},
		{name: "no server", attrs: with(), wantErr: "set instance metadata fleetprof-server-cmd"},
		{name: "bad label", attrs: with("fleetprof-labels", "model", "fleetprof-attach", "http://x:1"), wantErr: "model is not k=v"},
	}
	unit := readFile(t, "systemd/fleetprof-agent.service")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.tlsFiles {
				tls := filepath.Join(root, "etc/fleetprof/tls")
				if err := os.MkdirAll(tls, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range []string{"agent.pem", "agent-key.pem", "ca.pem"} {
					if err := os.WriteFile(filepath.Join(tls, f), []byte("PEM"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			run := func() (string, error) {
				cmd := exec.Command("bash", script)
				cmd.Env = append(os.Environ(), "FLEETPROF_ROOT="+root, "FLEETPROF_METADATA_URL="+metadataServer(t, tt.attrs),
					"PATH="+fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := run()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(out, tt.wantErr) {
					t.Fatalf("startup.sh = %v\n%s\nwant a failure saying %q", err, out, tt.wantErr)
				}
				if _, err := os.Stat(filepath.Join(root, "etc/fleetprof/agent.env")); err == nil {
					t.Error("a failed run wrote agent.env")
				}
				if left, _ := filepath.Glob(filepath.Join(root, "usr/local/bin/fleetprof-agent.*")); len(left) > 0 {
					t.Errorf("a failed run left %v", left)
				}
				return
			}
			if err != nil {
				t.Fatalf("startup.sh: %v\n%s", err, out)
			}
			env := string(readFile(t, filepath.Join(root, "etc/fleetprof/agent.env")))
			if got, want := envLine(env), tt.wantOpts; got != want {
				t.Errorf("FLEETPROF_AGENT_OPTS=\n%s\nwant\n%s", got, want)
			}
			if got := readFile(t, filepath.Join(root, "usr/local/bin/fleetprof-agent")); string(got) != string(binary) {
				t.Error("the installed binary is not the one published")
			}
			if got := readFile(t, filepath.Join(root, "etc/systemd/system/fleetprof-agent.service")); string(got) != string(unit) {
				t.Error("the unit startup.sh writes differs from deploy/systemd/fleetprof-agent.service: copy it into startup.sh")
			}
			wantUsers := nonComment(string(readFile(t, "systemd/fleetprof.sysusers")))
			if got := nonComment(string(readFile(t, filepath.Join(root, "usr/lib/sysusers.d/fleetprof.conf")))); got != wantUsers {
				t.Errorf("sysusers %q, want %q (deploy/systemd/fleetprof.sysusers)", got, wantUsers)
			}
			if tt.config != "" {
				if got := string(readFile(t, filepath.Join(root, "etc/fleetprof/agent.yaml"))); got != tt.config {
					t.Errorf("agent.yaml = %q, want %q", got, tt.config)
				}
			}
			if strings.Contains(tt.attrs["fleetprof-tls-secret"], "my-tpu") {
				if got := string(readFile(t, filepath.Join(root, "etc/fleetprof/tls/agent-key.pem"))); got != "PEM fleetprof-agent-my-tpu-key\n" {
					t.Errorf("agent-key.pem = %q, want the secret fleetprof-agent-my-tpu-key", got)
				}
			}
			// A second run (the next boot) keeps the binary it has.
			out, err = run()
			if err != nil || strings.Contains(out, "installed "+filepath.Join(root, "usr/local/bin/fleetprof-agent")) {
				t.Errorf("second run: %v\n%s\nwant no new download", err, out)
			}
		})
	}
}

// envLine returns the value of FLEETPROF_AGENT_OPTS in an env file.
func envLine(env string) string {
	for line := range strings.SplitSeq(env, "\n") {
		if v, ok := strings.CutPrefix(line, "FLEETPROF_AGENT_OPTS="); ok {
			return v
		}
	}
	return ""
}

// nonComment drops comment lines.
func nonComment(s string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(line, "#") && line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
