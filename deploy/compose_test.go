package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of the compose specification the file uses;
// decoding with KnownFields rejects any other key (a typo, most likely).
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
		Target     string `yaml:"target"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	NetworkMode string            `yaml:"network_mode"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   []string          `yaml:"depends_on"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs"`
	SecurityOpt []string          `yaml:"security_opt"`
	CapDrop     []string          `yaml:"cap_drop"`
	Restart     string            `yaml:"restart"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, "compose/docker-compose.yaml")))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return c
}

// TestCompose checks the compose file: a collector, the GCS emulator
// persisting to a volume, and at least two agents wrapping the simulated
// server under distinct ids, labels and ports.
func TestCompose(t *testing.T) {
	c := loadCompose(t)
	gcs, ok := c.Services["gcs"]
	if !ok || !strings.HasPrefix(gcs.Image, "fsouza/fake-gcs-server:") || strings.HasSuffix(gcs.Image, ":latest") {
		t.Errorf("gcs service image %q, want a pinned fsouza/fake-gcs-server", gcs.Image)
	}
	if flagValue(gcs.Command, "backend") != "filesystem" || !slices.ContainsFunc(gcs.Volumes, func(v string) bool {
		return strings.HasSuffix(v, ":"+flagValue(gcs.Command, "filesystem-root"))
	}) {
		t.Errorf("gcs does not persist to a volume: %q %q", gcs.Command, gcs.Volumes)
	}
	collector, ok := c.Services["collector"]
	if !ok {
		t.Fatal("no collector service")
	}
	listen := flagValue(collector.Command, "listen")

	images := map[string]string{} // image → target it is built with
	for name, s := range c.Services {
		if s.Build != nil {
			ctx := filepath.Join("compose", s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
				t.Errorf("%s: build context %s is not the repository root", name, s.Build.Context)
			}
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: dockerfile: %v", name, err)
			}
			images[s.Image] = s.Build.Target
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("%s: bind mount %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s: volume %s is not declared", name, src)
			}
		}
		for _, d := range s.DependsOn {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("%s depends on unknown service %s", name, d)
			}
		}
		if name != "gcs" && (!s.ReadOnly || !slices.Contains(s.CapDrop, "ALL")) {
			t.Errorf("%s: want read_only and cap_drop ALL", name)
		}
	}

	type agent struct{ id, labels, http, port string }
	var agents []agent
	for name, s := range c.Services {
		agentArgs, server := splitWrap(s.Command)
		if !slices.Contains(agentArgs, "--wrap") {
			continue
		}
		if len(server) == 0 || filepath.Base(server[0]) != "fleetprof-simserver" {
			t.Errorf("%s wraps %q, want fleetprof-simserver", name, server)
			continue
		}
		if target, ok := images[s.Image]; !ok || target != "sim" {
			t.Errorf("%s: image %s is not built from Dockerfile.agent's sim target", name, s.Image)
		}
		if got := flagValue(agentArgs, "collector"); got != listen {
			t.Errorf("%s: --collector %s, the collector listens on %s", name, got, listen)
		}
		if host, _, _ := net.SplitHostPort(listen); host == "127.0.0.1" && s.NetworkMode != "service:collector" {
			t.Errorf("%s dials a loopback collector from its own network: want network_mode service:collector", name)
		}
		port := flagValue(server, "port")
		if attach := flagValue(agentArgs, "attach"); attach != "http://127.0.0.1:"+port {
			t.Errorf("%s: --attach %s, the server listens on port %s", name, attach, port)
		}
		var labels []string
		for i, a := range agentArgs {
			if a == "--label" && i+1 < len(agentArgs) {
				labels = append(labels, agentArgs[i+1])
			}
		}
		slices.Sort(labels)
		agents = append(agents, agent{flagValue(agentArgs, "id"), strings.Join(labels, ","), flagValue(agentArgs, "http"), port})
	}
	if len(agents) < 2 {
		t.Fatalf("%d agents wrap the simulated server, want 2", len(agents))
	}
	// They share one network namespace: ids, labels and ports must differ.
	for i := range agents {
		for j := range i {
			a, b := agents[i], agents[j]
			if a.id == b.id || a.labels == b.labels || a.http == b.http || a.port == b.port {
				t.Errorf("agents %+v and %+v share an id, labels or a port", a, b)
			}
		}
	}
}

// TestExampleConfigs parses every example config as YAML (and the rules
// with the real rules parser: they are the built-in rules).
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("config/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("config/ holds %d YAML files, want agent.yaml, collector.yaml and rules.yaml", len(files))
	}
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(readFile(t, f)))
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: %v", f, err)
				break
			}
		}
	}
	checkDefaultRules(t, "config/rules.yaml", readFile(t, "config/rules.yaml"))
}
