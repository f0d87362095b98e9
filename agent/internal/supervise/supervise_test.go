package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the supervised program when SUPERVISE_CHILD is set.
func TestMain(m *testing.M) {
	if mode := os.Getenv("SUPERVISE_CHILD"); mode != "" {
		child(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

func child(mode string) {
	marker := os.Getenv("SUPERVISE_MARKER")
	switch mode {
	case "die":
		fmt.Println("starting up")
		fmt.Fprintln(os.Stderr, "fatal: out of HBM")
		os.Exit(3)
	case "trap":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		s := <-c
		os.WriteFile(marker, []byte(s.String()), 0o644)
		os.Exit(0)
	case "sleep":
		os.WriteFile(marker, []byte(fmt.Sprint(os.Getpid())), 0o644)
		time.Sleep(time.Minute)
	case "supervisor":
		// A stand-in agent: supervise a sleeping server until killed.
		sup, err := New(Options{Command: []string{os.Args[0]}, Env: []string{"SUPERVISE_CHILD=sleep"}, Grace: time.Second})
		if err != nil {
			os.Exit(4)
		}
		sup.Run(context.Background())
		os.Exit(0)
	case "ignore":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Println("ready")
		os.WriteFile(marker, []byte(fmt.Sprint(os.Getpid())), 0o644)
		time.Sleep(time.Minute)
	}
	os.Exit(2)
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewErrors(t *testing.T) {
	for _, cmd := range [][]string{nil, {""}} {
		if _, err := New(Options{Command: cmd}); !errors.Is(err, ErrNoCommand) {
			t.Errorf("New(%q) = %v, want ErrNoCommand", cmd, err)
		}
	}
}

func TestRunNotFound(t *testing.T) {
	s, err := New(Options{Command: []string{"/nonexistent/fleetprof-server"}, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	// A missing absolute path is not exec.ErrNotFound: it restarts until ctx ends.
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil at ctx end", err)
	}
	s2, _ := New(Options{Command: []string{"fleetprof-no-such-program"}})
	if err := s2.Run(t.Context()); err == nil {
		t.Errorf("Run(missing program) = nil, want an error")
	}
}

func TestRestartWithBackoff(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	s, err := New(Options{
		Command:    []string{self(t)},
		Env:        []string{"SUPERVISE_CHILD=die"},
		MinBackoff: 40 * time.Millisecond,
		MaxBackoff: 160 * time.Millisecond,
		Grace:      time.Second,
		OnRestart: func() {
			mu.Lock()
			defer mu.Unlock()
			at = append(at, time.Now())
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "4 restarts", 15*time.Second, func() bool { return s.Restarts() >= 4 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Delays 40, 80, 160, 160 ms: each gap at least its backoff.
	want := []time.Duration{80, 160, 160}
	for i := 1; i < len(at) && i <= len(want); i++ {
		if gap := at[i].Sub(at[i-1]); gap < want[i-1]*time.Millisecond {
			t.Errorf("restart %d came %v after the previous, want >= %v", i+1, gap, want[i-1]*time.Millisecond)
		}
	}
	tail := s.Tail(0)
	if !slices.Contains(tail, "fatal: out of HBM") || !slices.Contains(tail, "starting up") {
		t.Errorf("Tail = %q, want the child's stdout and stderr lines", tail)
	}
	if ex := s.Exits(); len(ex) < 4 || !strings.Contains(ex[0], "exit status 3") {
		t.Errorf("Exits = %q, want >= 4 entries with exit status 3", ex)
	}
}

func TestForwardSignal(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		want  string
	}{
		{"sigterm", errors.New("terminated signal received"), "terminated"},
		{"sigint", errors.New("interrupt signal received"), "interrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "marker")
			s, err := New(Options{
				Command: []string{self(t)},
				Env:     []string{"SUPERVISE_CHILD=trap", "SUPERVISE_MARKER=" + marker},
				Grace:   10 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancelCause(t.Context())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			waitFor(t, "ready", 10*time.Second, func() bool { return slices.Contains(s.Tail(0), "ready") })
			start := time.Now()
			cancel(tt.cause)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run = %v", err)
				}
			case <-time.After(8 * time.Second):
				t.Fatal("Run did not return after the child handled the signal")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("stop took %v, want well under the 10s grace", d)
			}
			got, _ := os.ReadFile(marker)
			if string(got) != tt.want {
				t.Errorf("child got signal %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKillAfterGrace(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pid")
	s, err := New(Options{
		Command: []string{self(t)},
		Env:     []string{"SUPERVISE_CHILD=ignore", "SUPERVISE_MARKER=" + marker},
		Grace:   300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "ready", 10*time.Second, func() bool { _, err := os.Stat(marker); return err == nil })
	pid, running := s.Running()
	if !running {
		t.Fatal("Running = false while the child runs")
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the grace period")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("stopped after %v, before the grace period", d)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) = %v, want ESRCH (process killed)", pid, err)
	}
}

func TestRing(t *testing.T) {
	r := NewRing(3)
	for i := range 5 {
		r.Add(fmt.Sprint(i))
	}
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{"2", "3", "4"}},
		{2, []string{"3", "4"}},
		{9, []string{"2", "3", "4"}},
	}
	for _, tt := range tests {
		if got := r.Tail(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	r.Add(strings.Repeat("x", 1000))
	if got := r.Tail(1)[0]; len(got) != 512+len("…") {
		t.Errorf("long line kept %d bytes, want 512 + ellipsis", len(got))
	}
}

// TestServerDiesWithKilledAgent kills a supervising process with SIGKILL, as
// an OOM killer or an operator would, and checks the server it wrapped does
// not live on holding its port.
func TestServerDiesWithKilledAgent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux-only")
	}
	marker := filepath.Join(t.TempDir(), "pid")
	agent := exec.Command(self(t))
	agent.Env = append(os.Environ(), "SUPERVISE_CHILD=supervisor", "SUPERVISE_MARKER="+marker)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	waitFor(t, "the server to start", 20*time.Second, func() bool {
		b, err := os.ReadFile(marker)
		if err != nil || len(b) == 0 {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	})
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.Wait()
	waitFor(t, "the server to die with its agent", 10*time.Second, func() bool { return !alive(pid) })
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
