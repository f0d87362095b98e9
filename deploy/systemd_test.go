package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

// parseUnit reads a unit file (comments, sections, key=value; no line
// continuations, which our units do not use).
func parseUnit(t *testing.T, b []byte) unitFile {
	t.Helper()
	u := unitFile{}
	var section string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("line %d: %q is not key=value in a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// last returns the value of key that systemd uses (the last one).
func (u unitFile) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// envFileOpts reads NAME=... from an EnvironmentFile and splits it like
// systemd splits an unquoted $NAME in ExecStart: at whitespace.
func envFileOpts(t *testing.T, file, name string) []string {
	t.Helper()
	var found []string
	for line := range strings.SplitSeq(string(readFile(t, file)), "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			if found != nil {
				t.Fatalf("%s sets %s twice", file, name)
			}
			found = strings.Fields(v)
		}
	}
	if found == nil {
		t.Fatalf("%s does not set %s", file, name)
	}
	return found
}

// unitCase describes one unit and what it must say.
type unitCase struct {
	unit, binary, envFile, optsVar, stateDir, dirFlag string
}

var unitCases = []unitCase{
	{"fleetprof-agent.service", "/usr/local/bin/fleetprof-agent", "agent.env", "FLEETPROF_AGENT_OPTS", "/var/lib/fleetprof-agent", "work-dir"},
	{"fleetprof-collector.service", "/usr/local/bin/fleetprof-collector", "collector.env", "FLEETPROF_COLLECTOR_OPTS", "/var/lib/fleetprof-collector", "data"},
}

// execStart returns a unit's command line with $OPTS expanded from its
// example environment file.
func execStart(t *testing.T, tc unitCase) []string {
	t.Helper()
	u := parseUnit(t, readFile(t, filepath.Join("systemd", tc.unit)))
	var out []string
	for _, f := range strings.Fields(u.last("Service", "ExecStart")) {
		if f == "$"+tc.optsVar {
			out = append(out, envFileOpts(t, filepath.Join("systemd", tc.envFile), tc.optsVar)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

// TestSystemdUnits checks the hardening and restart settings the units
// must keep, and that the state folder the daemon writes is writable.
func TestSystemdUnits(t *testing.T) {
	sysusers := string(readFile(t, "systemd/fleetprof.sysusers"))
	for _, tc := range unitCases {
		t.Run(tc.unit, func(t *testing.T) {
			u := parseUnit(t, readFile(t, filepath.Join("systemd", tc.unit)))
			want := map[string]string{
				"User":            "fleetprof",
				"Group":           "fleetprof",
				"ProtectSystem":   "strict",
				"ProtectHome":     "yes",
				"PrivateTmp":      "yes",
				"NoNewPrivileges": "yes",
				"Restart":         "on-failure",
				"StateDirectory":  filepath.Base(tc.stateDir),
				"EnvironmentFile": "/etc/fleetprof/" + tc.envFile,
			}
			for k, v := range want {
				if got := u.last("Service", k); got != v {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
			for _, k := range []string{"RestartSec", "LimitNOFILE", "CapabilityBoundingSet"} {
				if _, ok := u["Service"][k]; !ok {
					t.Errorf("%s is not set", k)
				}
			}
			if !slices.Contains(strings.Fields(u.last("Service", "ReadWritePaths")), tc.stateDir) {
				t.Errorf("ReadWritePaths=%q lacks %s", u.last("Service", "ReadWritePaths"), tc.stateDir)
			}
			if got := u.last("Install", "WantedBy"); got != "multi-user.target" {
				t.Errorf("WantedBy=%q", got)
			}
			if !strings.Contains(sysusers, "\nu "+want["User"]+" ") {
				t.Errorf("fleetprof.sysusers does not create user %s", want["User"])
			}
			args := execStart(t, tc)
			if args[0] != tc.binary {
				t.Errorf("ExecStart runs %s, want %s", args[0], tc.binary)
			}
			agentArgs, _ := splitWrap(args)
			if dir := flagValue(agentArgs, tc.dirFlag); dir != tc.stateDir {
				t.Errorf("--%s %q, want the StateDirectory %s", tc.dirFlag, dir, tc.stateDir)
			}
			for _, flag := range []string{"spool", "data", "work-dir"} {
				if dir := flagValue(agentArgs, flag); dir != "" && !strings.HasPrefix(dir+"/", tc.stateDir+"/") {
					t.Errorf("--%s %s is outside ReadWritePaths (%s)", flag, dir, tc.stateDir)
				}
			}
		})
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on each unit, with
// ExecStart pointed at a stand-in executable (the real binary is not
// installed here). Any message fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: skipping unit verification")
	}
	for _, tc := range unitCases {
		t.Run(tc.unit, func(t *testing.T) {
			dir := t.TempDir()
			stand := filepath.Join(dir, filepath.Base(tc.binary))
			if err := os.WriteFile(stand, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			unit := strings.ReplaceAll(string(readFile(t, filepath.Join("systemd", tc.unit))), tc.binary, stand)
			path := filepath.Join(dir, tc.unit)
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", tc.unit, err, out)
			}
		})
	}
	// The check itself catches mistakes.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.service")
	if err := os.WriteFile(bad, []byte("[Service]\nExecStart=/bin/true\nProtectSystem=stricter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(analyze, "verify", "--man=no", bad).CombinedOutput(); !bytes.Contains(out, []byte("ProtectSystem")) && !bytes.Contains(out, []byte("protect system")) {
		t.Errorf("systemd-analyze verify let a bad ProtectSystem through: %s", out)
	}
}
