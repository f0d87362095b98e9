package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the folder holding go.mod, found by walking up from here.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// readFile reads a file under deploy/ (the test's folder).
func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splitDocuments splits a multi-document YAML file at its "---" lines and
// drops documents that hold only comments and blank lines.
func splitDocuments(b []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimRight(sc.Text(), " \t") == "---" {
			flush()
			continue
		}
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		s := strings.TrimSpace(line)
		if s != "" && !strings.HasPrefix(s, "#") {
			return true
		}
	}
	return false
}

// binaries are the daemons, built once per test binary run.
type binaries struct {
	dir  string
	err  error
	out  []byte
	once sync.Once
}

var built binaries

// buildBinaries builds fleetprof-agent, fleetprof-collector and
// fleetprof-simserver into a temporary folder and returns it.
func buildBinaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "fleetprof-deploy-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		cmd := exec.Command(goTool(), "build", "-o", dir+string(filepath.Separator),
			"./agent/cmd/fleetprof-agent", "./collector/cmd/fleetprof-collector", "./integration/cmd/fleetprof-simserver")
		cmd.Dir = repoRoot(t)
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build the daemons: %v\n%s", built.err, built.out)
	}
	return built.dir
}

// TestMain removes the built binaries.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// goTool is the go command of the toolchain running the test.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

var helpFlag = regexp.MustCompile(`(?m)^\s+-([A-Za-z0-9][A-Za-z0-9-]*)\b`)

// flagNames runs bin -help and returns the flags it lists.
func flagNames(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(bin, "-help").CombinedOutput()
	names := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		names[m[1]] = true
	}
	if len(names) < 3 {
		t.Fatalf("%s -help lists %d flags:\n%s", bin, len(names), out)
	}
	return names
}

// splitWrap splits an agent command line at its first "--": the agent's
// arguments and the wrapped server's.
func splitWrap(args []string) (agent, server []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

// flagValue returns the value after --name (or -name) in args, or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if (a == "--"+name || a == "-"+name) && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// flagsUsed returns the flag names in args ("--tls-cert" → "tls-cert").
func flagsUsed(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name := strings.TrimLeft(a, "-")
		name, _, _ = strings.Cut(name, "=")
		out = append(out, name)
	}
	return out
}
