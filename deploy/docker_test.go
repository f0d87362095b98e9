package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into its ARGs before the first FROM
// and its stages.
func parseDockerfile(t *testing.T, b []byte) (globalArgs map[string]string, stages []stage) {
	t.Helper()
	globalArgs = map[string]string{}
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	for _, l := range lines {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case len(stages) == 0:
			t.Fatalf("%s before the first FROM", in.cmd)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return globalArgs, stages
}

// all returns the arguments of every instruction cmd of a stage.
func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// exec returns the JSON (exec) form of the stage's last ENTRYPOINT or CMD.
func (s stage) exec(t *testing.T, cmd string) []string {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(all[len(all)-1]), &out); err != nil {
		t.Fatalf("%s %s is not in exec (JSON) form: %v", cmd, all[len(all)-1], err)
	}
	return out
}

var (
	goBuildPkg = regexp.MustCompile(`\./[A-Za-z0-9_./-]+`)
	goDirectve = regexp.MustCompile(`(?m)^go (\S+)$`)
)

// TestDockerfiles checks the images' structure: multi-stage, static Go
// builds (CGO_ENABLED=0), a distroless or non-root final stage, and that
// what they copy and build exists.
func TestDockerfiles(t *testing.T) {
	root := fixtures.Root(t)
	goVersion := goDirectve.FindStringSubmatch(string(readFile(t, filepath.Join(root, "go.mod"))))[1]
	tests := []struct {
		file       string
		goBuild    bool     // builds Go in a stage
		finalName  string   // the last stage's name
		finalBins  []string // COPY destinations that must be in the final stage
		entrypoint string
	}{
		{"Dockerfile.collector", true, "", []string{"/usr/local/bin/", "/usr/local/lib/fleetprof/plugins/"}, "/usr/local/bin/fleetprof-collector"},
		{"Dockerfile.agent", true, "agent", []string{"/usr/local/bin/fleetprof-agent"}, "/usr/local/bin/fleetprof-agent"},
		{"Dockerfile.sglang-jax-agent", false, "sglang-jax", []string{"/usr/local/bin/fleetprof-agent"}, "/usr/local/bin/fleetprof-agent"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			args, stages := parseDockerfile(t, readFile(t, filepath.Join("docker", tt.file)))
			if len(stages) < 2 {
				t.Fatalf("%d stages, want a multi-stage build", len(stages))
			}
			final := stages[len(stages)-1]
			if final.name != tt.finalName {
				t.Errorf("final stage %q, want %q", final.name, tt.finalName)
			}
			users := final.all("USER")
			if len(users) == 0 {
				t.Fatal("final stage sets no USER")
			}
			if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
				t.Errorf("final stage USER %s is root", users[len(users)-1])
			}
			var builds int
			for _, s := range stages {
				for _, run := range s.all("RUN") {
					for _, cmd := range strings.Split(run, "&&") {
						if !strings.Contains(cmd, "go build") {
							continue
						}
						builds++
						if !strings.Contains(cmd, "CGO_ENABLED=0") {
							t.Errorf("go build without CGO_ENABLED=0 (static binaries): %s", cmd)
						}
						for _, pkg := range goBuildPkg.FindAllString(cmd, -1) {
							if _, err := os.Stat(filepath.Join(root, strings.TrimSuffix(pkg, "/..."))); err != nil {
								t.Errorf("go build %s: %v", pkg, err)
							}
						}
					}
				}
			}
			if tt.goBuild {
				if builds == 0 {
					t.Error("no go build")
				}
				if got := args["GO_VERSION"]; got != goVersion {
					t.Errorf("ARG GO_VERSION=%s, want go.mod's %s", got, goVersion)
				}
				if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
					t.Errorf("final stage FROM %s, want gcr.io/distroless/static-*:nonroot", final.from)
				}
			}
			for _, want := range tt.finalBins {
				if !slices.ContainsFunc(final.all("COPY"), func(c string) bool { return strings.HasSuffix(c, " "+want) }) {
					t.Errorf("final stage does not COPY to %s", want)
				}
			}
			for _, s := range stages {
				for _, c := range s.all("COPY") {
					if strings.Contains(c, "--from=") {
						continue
					}
					f := strings.Fields(c)
					for _, src := range f[:len(f)-1] {
						if strings.HasPrefix(src, "--") || src == "." {
							continue
						}
						if _, err := os.Stat(filepath.Join(root, src)); err != nil {
							t.Errorf("COPY %s: %v (the build context is the repository root)", src, err)
						}
					}
				}
			}
			if ep := final.exec(t, "ENTRYPOINT"); len(ep) == 0 || ep[0] != tt.entrypoint {
				t.Errorf("ENTRYPOINT %q, want %s first", ep, tt.entrypoint)
			}
		})
	}
}

// TestDockerfileDetails checks what each image is for: the collector ships
// its plugins with their allowlist, the agent image has a simulator-free
// default target, and the sglang-jax example wraps the server.
func TestDockerfileDetails(t *testing.T) {
	_, collector := parseDockerfile(t, readFile(t, "docker/Dockerfile.collector"))
	var sha bool
	for _, s := range collector {
		for _, run := range s.all("RUN") {
			sha = sha || strings.Contains(run, "sha256sum") && strings.Contains(run, "plugins.sha256")
		}
	}
	if !sha {
		t.Error("Dockerfile.collector does not write plugins/plugins.sha256 (the plugin host refuses unlisted plugins)")
	}
	_, agent := parseDockerfile(t, readFile(t, "docker/Dockerfile.agent"))
	final := agent[len(agent)-1]
	for _, c := range final.all("COPY") {
		if strings.Contains(c, "simserver") {
			t.Errorf("the default agent image carries the simulator: COPY %s", c)
		}
	}
	if !slices.ContainsFunc(agent, func(s stage) bool { return s.name == "sim" }) {
		t.Error("Dockerfile.agent has no sim stage (used by docker compose)")
	}

	_, sg := parseDockerfile(t, readFile(t, "docker/Dockerfile.sglang-jax-agent"))
	final = sg[len(sg)-1]
	var fromAgent bool
	for _, c := range final.all("COPY") {
		fromAgent = fromAgent || strings.Contains(c, "--from=fleetprof") && strings.Contains(c, "/usr/local/bin/fleetprof-agent")
	}
	if !fromAgent || sg[0].from != "${AGENT_IMAGE}" || sg[0].name != "fleetprof" {
		t.Error("Dockerfile.sglang-jax-agent does not COPY the agent from the agent image")
	}
	cmd := final.exec(t, "CMD")
	agentArgs, server := splitWrap(cmd)
	if !slices.Contains(agentArgs, "--wrap") || strings.Join(server[:min(3, len(server))], " ") != "python -m sgl_jax.launch_server" {
		t.Errorf("CMD %q: want agent flags, --wrap -- python -m sgl_jax.launch_server ...", cmd)
	}
}
