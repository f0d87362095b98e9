package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// testPlugin is the test plugin binary, built once by TestMain.
var testPlugin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testPlugin = filepath.Join(dir, "testplugin")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", testPlugin, "./testdata/testplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test plugin: %v\n", err)
		return 1
	}
	return m.Run()
}

// pluginDir makes a plugins folder holding the test plugin under each of
// names, with an allowlist listing them all except "notlisted", and
// "badsum" with a wrong sum.
func pluginDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	var allow strings.Builder
	allow.WriteString("# test allowlist\n")
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		switch n {
		case "notlisted":
		case "badsum":
			fmt.Fprintf(&allow, "%x  %s\n", sha256.Sum256([]byte("something else")), n)
		default:
			fmt.Fprintf(&allow, "%x  %s\n", sum, n)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, AllowlistFile), []byte(allow.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testCapture is a small hand-built capture: a device with two ops and a
// host with three events.
func testCapture() *capture.Capture {
	ev := func(name string, start, dur int64) capture.Event {
		return capture.Event{Name: name, Start: start, Dur: dur, Self: dur,
			Stats: []capture.Stat{{Name: "tf_op", Kind: capture.StatString, Str: "jit(f)/" + name + ":" + name}}}
	}
	return &capture.Capture{
		BaseNS: 1_770_000_000_000_000_000,
		Span:   capture.Interval{Start: 0, End: 10 * capture.Millisecond},
		Gap:    capture.DefaultGap, Pad: capture.DefaultPad,
		Windows:     []capture.Interval{{Start: 0, End: 2 * capture.Millisecond}},
		EventsTotal: 9,
		Planes: []*capture.Plane{
			{ID: 1, Name: "/device:TPU:0", Busy: 30 * capture.Microsecond, OpEvents: 2, EventsTotal: 2,
				Lines: []*capture.Line{{ID: 1, Name: "XLA Ops", Events: []capture.Event{
					ev("dot_general", 100*capture.Microsecond, 10*capture.Microsecond),
					ev("add", 200*capture.Microsecond, 20*capture.Microsecond),
				}}}},
			{ID: 2, Name: "/host:CPU", EventsTotal: 7,
				Lines: []*capture.Line{{ID: 7, Name: "python", Events: []capture.Event{
					ev("a", 0, 50*capture.Microsecond), ev("b", 60*capture.Microsecond, 5*capture.Microsecond),
					ev("c", 90*capture.Microsecond, 5*capture.Microsecond),
				}}}},
		},
		Dropped: []capture.Dropped{{Plane: 1, Line: 0, Name: "poll", Count: 4, Total: 40 * capture.Microsecond, Self: 40 * capture.Microsecond}},
		Source:  capture.Source{Format: "xplane", Name: "test.xplane.pb"},
		Context: map[string]string{"host": "test"},
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func discover(t *testing.T, dir string) []Plugin {
	t.Helper()
	ps, err := Discover(dir)
	if err != nil {
		t.Fatalf("Discover(%s): %v", dir, err)
	}
	return ps
}

func TestRunGood(t *testing.T) {
	var logs logtest.Buffer
	h := New(discover(t, pluginDir(t, "good")), Config{Timeout: 30 * time.Second, Logger: newLogger(&logs)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := h.Run(ctx, testCapture(), map[string]string{"greeting": "hello from the host"})
	want := []*sdk.Section{{
		Name:    "good",
		Title:   "Kept events per plane",
		Summary: []sdk.Metric{{Key: "events_kept", Label: "Events kept", Value: 5}},
		Columns: []sdk.Column{{Key: "plane", Label: "Plane"}, {Key: "events", Label: "Events"}},
		Rows:    []sdk.Row{{"plane": "/device:TPU:0", "events": int64(2)}, {"plane": "/host:CPU", "events": int64(3)}},
		Notes:   []string{"hello from the host"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run sections (-want +got):\n%s", diff)
	}
	// The plugin's own log line, written with Input.Log to its stderr,
	// reaches the host's logger with its attributes.
	for _, s := range []string{`msg=analyzing`, `plugin=good`, `mode=good`, `planes=2`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("host log lacks %q; log:\n%s", s, logs.String())
		}
	}
}

func TestRunContainsFailures(t *testing.T) {
	names := []string{"good", "crash", "gopanic", "panic", "hang", "stall", "garbage", "badlog",
		"nan", "fail", "badname", "dup", "notlisted", "badsum", "oldproto"}
	var logs logtest.Buffer
	const timeout = 4 * time.Second
	h := New(discover(t, pluginDir(t, names...)), Config{
		Timeout: timeout, StartTimeout: 3 * time.Second, Concurrency: len(names), Logger: newLogger(&logs),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := runtime.NumGoroutine()
	start := time.Now()
	secs := h.Run(ctx, testCapture(), nil)
	elapsed := time.Since(start)
	assertNoGoroutineLeak(t, before)
	// The hung plugins are killed at the timeout, plus go-plugin's 2 s
	// grace for a graceful exit.
	if elapsed > timeout+5*time.Second {
		t.Errorf("Run took %s, want under %s", elapsed, timeout+5*time.Second)
	}
	byName := make(map[string]*sdk.Section)
	for _, s := range secs {
		byName[s.Name] = s
	}
	tests := []struct {
		section string
		want    error  // in the error text
		detail  string // also in the error text
	}{
		{"crash", ErrCrashed, "crash exited or dropped the connection during Analyze"},
		{"gopanic", ErrCrashed, "gopanic exited"},
		{"panic", ErrFailed, "panic: testplugin: boom"},
		{"hang", ErrTimeout, "Analyze did not finish in 4s"},
		{"stall", ErrTimeout, "stall did not complete the handshake in 3s"},
		{"garbage", ErrHandshake, "hello from a plugin that talks on stdout"},
		{"oldproto", ErrHandshake, "oldproto speaks another protocol version (host: 1): rebuild it with this SDK"},
		{"nan", ErrFailed, "summary \"x\" is NaN"},
		{"fail", ErrFailed, "no device plane: device tracing was off"},
		{"badname", ErrFailed, `name "Bad Name" is not lower snake case`},
		{"dup", ErrDuplicate, `good and dup both report "good"`},
		{"notlisted", ErrNotAllowed, "notlisted is not listed in"},
		{"badsum", ErrChecksum, "badsum has sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.section, func(t *testing.T) {
			s, ok := byName[tt.section]
			if !ok {
				t.Fatalf("no section %q; have %v", tt.section, sectionNames(secs))
			}
			if !strings.Contains(s.Error, tt.want.Error()) || !strings.Contains(s.Error, tt.detail) {
				t.Errorf("section %s Error = %q, want %q and %q", tt.section, s.Error, tt.want, tt.detail)
			}
			if len(s.Rows) != 0 || s.Summary != nil {
				t.Errorf("failed section %s has rows or summary", tt.section)
			}
		})
	}
	for _, name := range []string{"good", "badlog"} {
		s, ok := byName[name]
		if !ok || s.Error != "" || len(s.Rows) != 2 || s.Summary[0].Value != 5 {
			t.Errorf("section %s = %+v, want 2 rows and 5 events", name, s)
		}
	}
	if len(secs) != len(names) {
		t.Errorf("got %d sections %v, want %d", len(secs), sectionNames(secs), len(names))
	}
	// The hostile stderr lines were logged, not parsed into a panic.
	for _, s := range []string{`line="{\"@message\":1,\"@level\":\"info\"}"`, "truncated=true", "panic: testplugin: boom in a goroutine"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("host log lacks %q", s)
		}
	}
	assertNoProcesses(t, filepath.Dir(h.plugins[0].Path))
}

// assertNoGoroutineLeak checks that the goroutine count falls back to
// before within a few seconds.
func assertNoGoroutineLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertNoProcesses checks that no process runs a binary from dir.
func assertNoProcesses(t *testing.T, dir string) {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/exe")
	if err != nil || len(procs) == 0 {
		t.Log("no /proc: process check skipped")
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for _, p := range procs {
			exe, err := os.Readlink(p)
			if err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
				left = append(left, exe)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("plugin processes still running: %v", left)
			return
		}
		time.Sleep(100 * time.Millisecond)
		procs, _ = filepath.Glob("/proc/[0-9]*/exe")
	}
}

func sectionErrors(secs []*sdk.Section) []string {
	var out []string
	for _, s := range secs {
		out = append(out, s.Name+": "+s.Error)
	}
	return out
}

func sectionNames(secs []*sdk.Section) []string {
	var out []string
	for _, s := range secs {
		out = append(out, s.Name)
	}
	return out
}

func TestRunCanceled(t *testing.T) {
	h := New(discover(t, pluginDir(t, "hang")), Config{Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	secs := h.Run(ctx, testCapture(), nil)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run after cancel took %s", d)
	}
	// On a loaded machine the deadline may fall during the start rather
	// than during Analyze: either way the section says it was canceled.
	if len(secs) != 1 || !strings.Contains(secs[0].Error, ErrCanceled.Error()+": hang ") {
		t.Errorf("Run = %q, want one canceled section", sectionErrors(secs))
	}
	// Canceled before it starts, a plugin is not started at all.
	secs = h.Run(ctx, testCapture(), nil)
	if len(secs) != 1 || !strings.Contains(secs[0].Error, ErrCanceled.Error()+": hang not started") {
		t.Errorf("Run(canceled) = %q, want one canceled section", sectionErrors(secs))
	}
}

func TestRunChunks(t *testing.T) {
	// A tiny chunk size sends many chunks; the plugin must rebuild the same
	// capture.
	h := New(discover(t, pluginDir(t, "good")), Config{ChunkBytes: 64})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secs := h.Run(ctx, testCapture(), nil)
	if len(secs) != 1 || secs[0].Error != "" || secs[0].Summary[0].Value != 5 {
		t.Errorf("Run = %+v, want 5 events", secs[0])
	}
}

func TestRunNoPlugins(t *testing.T) {
	ps, err := Discover(t.TempDir())
	if err != nil || ps != nil {
		t.Fatalf("Discover(empty) = %v, %v; want nil, nil", ps, err)
	}
	if got := New(ps, Config{}).Run(context.Background(), testCapture(), nil); len(got) != 0 {
		t.Errorf("Run = %v, want no sections", got)
	}
}

func TestStartChecksumRace(t *testing.T) {
	// A binary replaced after Discover is refused by go-plugin's
	// SecureConfig when it is started.
	dir := pluginDir(t, "good")
	ps := discover(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "good"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	secs := New(ps, Config{}).Run(context.Background(), testCapture(), nil)
	if len(secs) != 1 || !strings.Contains(secs[0].Error, ErrChecksum.Error()) {
		t.Errorf("Run = %+v, want a checksum error", secs[0])
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrChecksum), ErrChecksum) {
		t.Fatal("sentinel")
	}
}
