package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

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
		cmd.Dir = fixtures.Root(t)
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

// helpFlag matches a flag line of Go's flag.PrintDefaults: "  -name type"
// for a flag that takes a value, "  -name" alone for a boolean.
var helpFlag = regexp.MustCompile(`(?m)^  --?([A-Za-z0-9][A-Za-z0-9-]*)( [A-Za-z]+)?$`)

// flagNames runs bin -help and returns the flags it lists, each mapped to
// whether it takes a value.
func flagNames(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(bin, "-help").CombinedOutput()
	names := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		names[m[1]] = m[2] != ""
	}
	if len(names) < 3 {
		t.Fatalf("%s -help lists %d flags:\n%s", bin, len(names), out)
	}
	return names
}

// checkArgs parses args as Go's flag package would with the flags in known
// (name → takes a value) and returns what is wrong: an unknown flag, a
// flag without its value, or a stray positional argument.
func checkArgs(args []string, known map[string]bool) []string {
	var bad []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			bad = append(bad, fmt.Sprintf("stray argument %q", a))
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := known[name]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("unknown flag %s", a))
		case takesValue && !hasValue && i+1 == len(args):
			bad = append(bad, fmt.Sprintf("flag %s has no value", a))
		case takesValue && !hasValue:
			i++
		}
	}
	return bad
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
