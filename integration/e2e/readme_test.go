package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/logtest"
)

// readmeCommand is one shell command of a fenced block of README.md.
type readmeCommand struct {
	line int    // where it starts in README.md
	text string // continuation lines joined
}

// readmeCommands parses README.md's ```sh blocks into commands: comments and
// blank lines dropped, `\` continuations joined. Blocks whose info string
// says long-running (daemons, make targets) are skipped, as the README says.
func readmeCommands(t *testing.T, path string) []readmeCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cmds        []readmeCommand
		in, skip    bool
		cur         strings.Builder
		start, line int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line++
		s := sc.Text()
		if fence, ok := strings.CutPrefix(s, "```"); ok {
			switch {
			case in:
				in = false
			case strings.HasPrefix(fence, "sh"):
				in, skip = true, strings.Contains(fence, "long-running")
			}
			continue
		}
		if !in || skip {
			continue
		}
		trimmed := strings.TrimSpace(s)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = line
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body)
			continue
		}
		cur.WriteString(trimmed)
		cmds = append(cmds, readmeCommand{line: start, text: cur.String()})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cmds
}

// TestREADMECommands starts the demo (DEMO_KEEP=1) in a scratch copy of the
// checkout's layout and runs every command of README.md's shell blocks
// against it, as a user would: no --collector and no FLEETPROF_COLLECTOR,
// so the CLI finds the demo through demo-out/env. ID, A, B and FLEET_ID are
// replaced by the demo's ids.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo")
	}
	root := repoRoot()
	cmds := readmeCommands(t, filepath.Join(root, "README.md"))
	if len(cmds) < 10 {
		t.Fatalf("README.md has %d commands outside long-running blocks, want at least 10", len(cmds))
	}

	// work/main stands for the checkout (bin/, demo-out/, out/), work/shared
	// for the fixtures beside it.
	work := t.TempDir()
	main := filepath.Join(work, "main")
	if err := os.MkdirAll(main, 0o755); err != nil {
		t.Fatal(err)
	}
	shared, err := filepath.Abs(filepath.Join(root, "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{shared: filepath.Join(work, "shared"), bins: filepath.Join(main, "bin")} {
		if err := os.Symlink(from, to); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLEETPROF_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bins+string(os.PathListSeparator)+os.Getenv("PATH"), "FLEETPROF_METADATA_URL=off")

	demo := exec.Command("bash", filepath.Join(root, "integration", "demo", "demo.sh"))
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	demo.Env = append(env, "DEMO_KEEP=1", "DEMO_BIN="+bins, "DEMO_OUT="+filepath.Join(main, "demo-out"))
	out := &logtest.Buffer{}
	demo.Stdout, demo.Stderr = out, out
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- demo.Wait() }()
	t.Cleanup(func() {
		// Ctrl-C (SIGINT) to the script: its trap stops what it started
		// and, with DEMO_KEEP=1, exits 0 (no "make: *** Error 130").
		_ = demo.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo after Ctrl-C: %v, want exit status 0", err)
			}
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("demo did not stop within 30 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("demo output (tail):\n%s", logtest.Tail(out.String(), 60))
		}
	})
	ready := time.After(8 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("demo exited before keeping the system up: %v", err)
		case <-ready:
			t.Fatal("demo not up within 8 minutes")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := os.Stat(filepath.Join(main, "demo-out", "env")); err != nil {
		t.Fatalf("demo wrote no env file: %v", err)
	}
	if !strings.Contains(out.String(), "export FLEETPROF_COLLECTOR=127.0.0.1:") {
		t.Errorf("demo printed no export FLEETPROF_COLLECTOR line")
	}

	run := func(c readmeCommand) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", c.text)
		cmd.Dir, cmd.Env = main, env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	// The demo's ids, found through demo-out/env like every command below.
	listing, err := run(readmeCommand{text: "fleetprof captures --format json"})
	if err != nil {
		t.Fatalf("fleetprof captures: %v\n%s", err, listing)
	}
	var list struct {
		Captures []struct {
			ID      string `json:"capture_id"`
			FleetID string `json:"fleet_id"`
		} `json:"captures"`
	}
	if err := json.Unmarshal([]byte(listing), &list); err != nil || len(list.Captures) < 2 {
		t.Fatalf("fleetprof captures --format json: %v, %d captures\n%s", err, len(list.Captures), listing)
	}
	// The agents report the host their profiles name, with a healthy server.
	agentsOut, err := run(readmeCommand{text: "fleetprof agents --format json"})
	if err != nil {
		t.Fatalf("fleetprof agents: %v\n%s", err, agentsOut)
	}
	for _, want := range []string{`"host": "t1v-n-demoa-w-0"`, `"host": "t1v-n-demob-w-0"`, `"host": "t1v-n-democ-w-0"`} {
		if !strings.Contains(agentsOut, want) {
			t.Errorf("fleetprof agents --format json lacks %s:\n%s", want, agentsOut)
		}
	}
	ids := map[string]string{"ID": list.Captures[0].ID, "A": list.Captures[0].ID, "B": list.Captures[1].ID}
	for _, c := range list.Captures {
		if c.FleetID != "" {
			ids["FLEET_ID"] = c.FleetID
		}
	}

	for _, c := range cmds {
		fields := strings.Fields(c.text)
		for i, f := range fields {
			if id, ok := ids[f]; ok {
				fields[i] = id
			}
		}
		c.text = strings.Join(fields, " ")
		got, err := run(c)
		if err != nil {
			t.Errorf("README.md:%d: %s: %v\n%s", c.line, c.text, err, logtest.Tail(got, 20))
			continue
		}
		t.Logf("README.md:%d: %s: ok", c.line, c.text)
	}
	// Outputs land under out/ (ignored by git), readable by others like
	// any file a user writes.
	for _, f := range []string{"out/seed.trace.json.gz", "out/report/report.md", "out/trace.json.gz"} {
		st, err := os.Stat(filepath.Join(main, f))
		if err != nil {
			t.Errorf("README command output %s: %v", f, err)
			continue
		}
		if got := st.Mode().Perm(); got != 0o644 {
			t.Errorf("README command output %s: mode %v, want 0644", f, got)
		}
	}
}
