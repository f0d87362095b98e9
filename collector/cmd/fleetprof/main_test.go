package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// built holds the two binaries, built once: dir has fleetprof and
// fleetprof-cli side by side, alone only fleetprof.
var built struct {
	once       sync.Once
	dir, alone string
	err        error
}

func binaries(t *testing.T) (dir, alone string) {
	t.Helper()
	root := fixtures.Root(t)
	built.once.Do(func() {
		base, err := os.MkdirTemp("", "fleetprof-front-")
		if err != nil {
			built.err = err
			return
		}
		built.dir, built.alone = filepath.Join(base, "both"), filepath.Join(base, "alone")
		for _, b := range []struct {
			out  string
			pkgs []string
		}{
			{built.dir, []string{"./collector/cmd/fleetprof", "./collector/cmd/fleetprof-cli"}},
			{built.alone, []string{"./collector/cmd/fleetprof"}},
		} {
			cmd := exec.Command("go", append([]string{"build", "-o", b.out + string(filepath.Separator)}, b.pkgs...)...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = errors.New(string(out))
				return
			}
		}
	})
	if built.err != nil {
		t.Fatalf("go build: %v", built.err)
	}
	return built.dir, built.alone
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(filepath.Dir(built.dir))
	}
	os.Exit(code)
}

// run runs bin with args, with an empty PATH so that only the binary's own
// folder can provide fleetprof-cli.
func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PATH=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.String(), errb.String(), code
}

// TestFrontRunsFileCommandsItself: inspect and trim work with fleetprof
// alone; every other command line needs fleetprof-cli and says so.
func TestFrontRunsFileCommandsItself(t *testing.T) {
	_, alone := binaries(t)
	fp := filepath.Join(alone, "fleetprof")
	src := fixtures.Path(t, "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb")
	out := filepath.Join(t.TempDir(), "seed.trace.json.gz")
	if stdout, stderr, code := run(t, fp, "trim", src, "-o", out, "-q"); code != 0 || !strings.Contains(stdout, "kept 723 of 356,442 events in 2 windows") {
		t.Fatalf("fleetprof trim alone: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("trim wrote no %s: %v", out, err)
	}
	if stdout, _, code := run(t, fp, "inspect", src, "--format", "json", "-q"); code != 0 || !strings.Contains(stdout, `"events_total": 356442`) {
		t.Fatalf("fleetprof inspect alone: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := run(t, fp, "trim"); code != 2 || !strings.Contains(stderr, "trim takes 1 argument(s)") {
		t.Errorf("fleetprof trim without PATH: exit %d, %q; want 2 and the usage error", code, stderr)
	}
	for _, args := range [][]string{{"--help"}, {"captures"}, {"-v", "trim", src, "-o", out}} {
		_, stderr, code := run(t, fp, args...)
		if code != 1 || !strings.Contains(stderr, "fleetprof-cli not found") || !strings.Contains(stderr, "make build") {
			t.Errorf("fleetprof %q alone: exit %d, %q; want 1 and where to get fleetprof-cli", args, code, stderr)
		}
	}
}

// TestFrontHandsOverToCLI: with fleetprof-cli beside it (or beside the
// binary a symbolic link points to), fleetprof runs every command line,
// with the CLI's output and exit code, and its own commands' help is the
// CLI's.
func TestFrontHandsOverToCLI(t *testing.T) {
	dir, _ := binaries(t)
	link := filepath.Join(t.TempDir(), "fleetprof")
	if err := os.Symlink(filepath.Join(dir, "fleetprof"), link); err != nil {
		t.Fatal(err)
	}
	for _, fp := range []string{filepath.Join(dir, "fleetprof"), link} {
		if stdout, _, code := run(t, fp, "--help"); code != 0 || !strings.Contains(stdout, "captures") || !strings.Contains(stdout, "experiment") {
			t.Errorf("%s --help: exit %d; want the whole CLI's commands:\n%s", fp, code, stdout)
		}
		if _, stderr, code := run(t, fp, "captures", "--collector", "127.0.0.1:1"); code != 1 || !strings.Contains(stderr, "connection refused") {
			t.Errorf("%s captures against a closed port: exit %d, %q; want 1 and the CLI's error", fp, code, stderr)
		}
		if _, stderr, code := run(t, fp, "no-such-command"); code != 2 || !strings.Contains(stderr, "unknown command") {
			t.Errorf("%s no-such-command: exit %d, %q; want the CLI's usage error (2)", fp, code, stderr)
		}
		// A global flag of the CLI after trim: the CLI runs the trim.
		src := fixtures.Path(t, "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb")
		out := filepath.Join(t.TempDir(), "seed.trace.json.gz")
		if stdout, stderr, code := run(t, fp, "trim", src, "-o", out, "--collector", "127.0.0.1:1"); code != 0 || !strings.Contains(stdout, "kept 723") {
			t.Errorf("%s trim --collector: exit %d\n%s%s", fp, code, stdout, stderr)
		}
		if _, stderr, code := run(t, fp, "trim", src, "-o", out, "--no-such-flag"); code != 2 || !strings.Contains(stderr, "unknown flag: --no-such-flag") {
			t.Errorf("%s trim --no-such-flag: exit %d, %q; want the usage error (2)", fp, code, stderr)
		}
	}
	cli := filepath.Join(dir, "fleetprof-cli")
	for _, c := range []string{"trim", "inspect"} {
		// The same but for the CLI's global flags, which the front's
		// commands do not take (given, they go to the CLI).
		front, _, _ := run(t, filepath.Join(dir, "fleetprof"), c, "--help")
		whole, _, _ := run(t, cli, c, "--help")
		front, _, _ = strings.Cut(front, "Global Flags:")
		whole, _, _ = strings.Cut(whole, "Global Flags:")
		if front != whole || !strings.Contains(front, "--gap") {
			t.Errorf("fleetprof %s --help differs from fleetprof-cli's:\n%s\n---\n%s", c, front, whole)
		}
	}
}

// TestFrontStaysSmall: the front links nothing of the collector's client,
// the plugin host or the collector's own packages; that is what makes it
// start fast.
func TestFrontStaysSmall(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"google.golang.org/grpc", "github.com/hashicorp/go-plugin", "github.com/prometheus/", "go.etcd.io/bbolt",
			"github.com/fleetprof/fleetprof/collector/internal/cli", "github.com/fleetprof/fleetprof/collector/internal/report"} {
			if dep == heavy || strings.HasPrefix(dep, heavy+"/") || (strings.HasSuffix(heavy, "/") && strings.HasPrefix(dep, heavy)) {
				t.Errorf("fleetprof links %s", dep)
			}
		}
	}
}
