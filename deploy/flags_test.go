package deploy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestFlagsExist checks every flag the deployment files pass to a binary
// against that binary's -help, so a renamed or dropped flag fails here
// rather than on a production host. The wrapped model server's flags are
// its own and are not checked, except the simulated server's.
func TestFlagsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemons")
	}
	dir := buildBinaries(t)
	known := map[string]map[string]bool{
		"fleetprof-agent":     flagNames(t, filepath.Join(dir, "fleetprof-agent")),
		"fleetprof-collector": flagNames(t, filepath.Join(dir, "fleetprof-collector")),
		"fleetprof-simserver": flagNames(t, filepath.Join(dir, "fleetprof-simserver")),
	}
	type use struct {
		where, binary string
		args          []string
	}
	var uses []use
	agent := func(where string, args []string) {
		a, _ := splitWrap(args)
		uses = append(uses, use{where, "fleetprof-agent", a})
	}

	// systemd units with their example environment files.
	agent("systemd/fleetprof-agent.service + agent.env", execStart(t, unitCases[0])[1:])
	uses = append(uses, use{"systemd/fleetprof-collector.service + collector.env", "fleetprof-collector", execStart(t, unitCases[1])[1:]})

	// Kubernetes.
	objs := loadManifests(t)
	for _, o := range objs {
		ss, ok := o.obj.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		for _, c := range ss.Spec.Template.Spec.Containers {
			args := slices.Concat(c.Command, c.Args)
			bin := filepath.Base(args[0])
			if bin == "fleetprof-agent" {
				agent(o.file+" "+c.Name, args[1:])
			} else {
				uses = append(uses, use{o.file + " " + c.Name, bin, args[1:]})
			}
		}
	}

	// Docker compose.
	for name, s := range loadCompose(t).Services {
		where := "compose " + name
		switch {
		case name == "collector":
			uses = append(uses, use{where, "fleetprof-collector", s.Command})
		case slices.Contains(s.Command, "--wrap"):
			agent(where, s.Command)
			_, server := splitWrap(s.Command)
			uses = append(uses, use{where + " (wrapped)", filepath.Base(server[0]), server[1:]})
		}
	}

	// Dockerfiles: ENTRYPOINT and CMD.
	for file, bin := range map[string]string{"Dockerfile.collector": "fleetprof-collector", "Dockerfile.sglang-jax-agent": "fleetprof-agent"} {
		_, stages := parseDockerfile(t, readFile(t, filepath.Join("docker", file)))
		final := stages[len(stages)-1]
		args := slices.Concat(final.exec(t, "ENTRYPOINT")[1:], final.exec(t, "CMD"))
		a, _ := splitWrap(args)
		uses = append(uses, use{file, bin, a})
	}

	// The flags startup.sh composes.
	var scriptFlags []string
	for _, line := range strings.Split(string(readFile(t, "tpu-vm/startup.sh")), "\n") {
		if strings.Contains(line, "opts+=(") || strings.Contains(line, "opts=(") {
			scriptFlags = append(scriptFlags, scriptFlag.FindAllString(line, -1)...)
		}
	}
	if len(scriptFlags) < 8 {
		t.Errorf("found %d flags in startup.sh: %q", len(scriptFlags), scriptFlags)
	}
	for _, f := range scriptFlags {
		name := strings.TrimPrefix(f, "--")
		if _, ok := known["fleetprof-agent"][name]; !ok {
			t.Errorf("tpu-vm/startup.sh passes %s, which fleetprof-agent does not have", f)
		}
	}

	for _, u := range uses {
		names, ok := known[u.binary]
		if !ok {
			t.Errorf("%s runs %s, which this test does not know", u.where, u.binary)
			continue
		}
		for _, problem := range checkArgs(u.args, names) {
			t.Errorf("%s: %s (%s %q)", u.where, problem, u.binary, u.args)
		}
	}
}

var scriptFlag = regexp.MustCompile(`--[a-z][a-z-]*`)

// TestAgentConfigs loads each agent policy file the deployment ships with
// the real agent: a bad key or value makes it exit 2 naming the field.
func TestAgentConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemons")
	}
	bin := filepath.Join(buildBinaries(t), "fleetprof-agent")
	k8sDir := t.TempDir()
	objs := loadManifests(t)
	cm := find[corev1.ConfigMap](objs, "serving", "sglang-jax-fleetprof")
	if cm == nil {
		t.Fatal("no ConfigMap serving/sglang-jax-fleetprof")
	}
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(k8sDir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("capture:\n  backnd: http\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		wantOK     bool
	}{
		{"example", "config/agent.yaml", true},
		{"k8s ConfigMap", filepath.Join(k8sDir, "agent.yaml"), true},
		{"unknown key", bad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A standalone capture of a server that is not there: past the
			// config it fails with status 1 (no server); a bad config is a
			// usage error, status 2.
			cmd := exec.Command(bin, "capture", "--config", tt.file, "--attach", "http://127.0.0.1:1",
				"--health-timeout", "1ms", "--metadata-url", "off", "-o", t.TempDir())
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("fleetprof-agent capture: %v\n%s", err, out)
			}
			if ok := exit.ExitCode() == 1; ok != tt.wantOK || !ok && !strings.Contains(string(out), "backnd") {
				t.Errorf("fleetprof-agent --config %s: exit %d\n%s", tt.file, exit.ExitCode(), out)
			}
		})
	}
}

// TestCollectorConfigs loads each collector policy file the deployment
// ships with the real collector: a bad one stops it at once with status 2;
// a good one gets it past the flags to its next check (no TLS: status 1).
func TestCollectorConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemons")
	}
	bin := filepath.Join(buildBinaries(t), "fleetprof-collector")
	cm := find[corev1.ConfigMap](loadManifests(t), "fleetprof", "fleetprof-collector-config")
	if cm == nil {
		t.Fatal("no ConfigMap fleetprof/fleetprof-collector-config")
	}
	tmp := t.TempDir()
	k8s := filepath.Join(tmp, "k8s.yaml")
	bad := filepath.Join(tmp, "bad.yaml")
	if err := os.WriteFile(k8s, []byte(cm.Data["collector.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("retention:\n  rules:\n    - selector: \"\"\n      max_agee: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		wantOK     bool
	}{
		{"example", "config/collector.yaml", true},
		{"k8s ConfigMap", k8s, true},
		{"unknown key", bad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin, "--config", tt.file, "--data", t.TempDir(), "--http", "-").CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("fleetprof-collector: %v\n%s", err, out)
			}
			// Status 1 is past the flags and the policy; a bad policy is
			// status 2 and names the key.
			if ok := exit.ExitCode() == 1; ok != tt.wantOK || !ok && !strings.Contains(string(out), "max_agee") {
				t.Errorf("fleetprof-collector --config %s: exit %d\n%s", tt.file, exit.ExitCode(), out)
			}
		})
	}
}
