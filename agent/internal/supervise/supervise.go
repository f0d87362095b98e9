// Package supervise runs the model server as a child process: in its own
// process group, its output passed to the log and kept in a bounded ring,
// restarted with exponential backoff when it dies, stopped with a signal
// and then killed after a grace period.
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors.
var (
	// ErrNoCommand means no command was given to supervise.
	ErrNoCommand = errors.New("supervise: no command: give the model server's command after --wrap --")
)

// Options configure a Supervisor. Only Command is required.
type Options struct {
	// Command is the program and its arguments.
	Command []string
	// Dir is the working directory; empty means the agent's.
	Dir string
	// Env is added to the agent's environment.
	Env []string
	// Grace is how long the group has after the stop signal before it is
	// killed. Zero means 10s.
	Grace time.Duration
	// MinBackoff is the first restart delay. Zero means 1s.
	MinBackoff time.Duration
	// MaxBackoff caps the restart delay. Zero means 1m.
	MaxBackoff time.Duration
	// StableAfter is how long a child must run for the backoff to reset.
	// Zero means 1m.
	StableAfter time.Duration
	// RingLines is how many output lines to keep. Zero means 200.
	RingLines int
	// Logger receives the child's output and lifecycle logs. Nil discards.
	Logger *slog.Logger
	// OnRestart, if set, is called each time the child is restarted.
	OnRestart func()
}

// Supervisor runs one child process and keeps it running.
type Supervisor struct {
	opts     Options
	log      *slog.Logger
	ring     *Ring
	restarts atomic.Int64

	mu      sync.Mutex
	pid     int
	running bool
	exits   []string
}

// New checks the options and returns a Supervisor.
func New(opts Options) (*Supervisor, error) {
	if len(opts.Command) == 0 || opts.Command[0] == "" {
		return nil, ErrNoCommand
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.StableAfter <= 0 {
		opts.StableAfter = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{opts: opts, log: log.With("component", "supervise"), ring: NewRing(opts.RingLines)}, nil
}

// Restarts returns how many times the child was restarted.
func (s *Supervisor) Restarts() int64 { return s.restarts.Load() }

// Tail returns up to n recent output lines, oldest first.
func (s *Supervisor) Tail(n int) []string { return s.ring.Tail(n) }

// Running reports whether the child is running, and its pid.
func (s *Supervisor) Running() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid, s.running
}

// Exits returns descriptions of the child's recent exits (at most 20).
func (s *Supervisor) Exits() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.exits...)
}

// Run starts the child and restarts it whenever it exits, until ctx is
// done; then it sends the group SIGTERM (SIGINT if ctx was cancelled by an
// interrupt), waits up to the grace period and kills the group. It returns
// nil after a clean stop, or the error that kept the child from starting.
func (s *Supervisor) Run(ctx context.Context) error {
	backoff := s.opts.MinBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.restarts.Add(1)
			if s.opts.OnRestart != nil {
				s.opts.OnRestart()
			}
		}
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && attempt == 0 && errors.Is(err, exec.ErrNotFound) {
			return err
		}
		if time.Since(started) >= s.opts.StableAfter {
			backoff = s.opts.MinBackoff
		}
		s.log.Warn("model server exited; restarting", "err", err, "after", backoff.String(), "restarts", s.restarts.Load()+1)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// runOnce runs the child until it exits or ctx is done.
func (s *Supervisor) runOnce(ctx context.Context) error {
	cmd := exec.Command(s.opts.Command[0], s.opts.Command[1:]...)
	cmd.Dir = s.opts.Dir
	cmd.Env = append(os.Environ(), s.opts.Env...)
	cmd.SysProcAttr = sysProcAttr()
	// Our own pipes: Wait then does not wait for the copying, and
	// grandchildren that keep the pipes open cannot block it.
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("supervise: stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("supervise: stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	// Start and Wait on one locked OS thread that lives as long as the
	// server: the parent-death signal is tied to the thread that started it.
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	err = <-started
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("supervise: start %s: %w", s.opts.Command[0], err)
	}
	pid := cmd.Process.Pid
	s.setRunning(pid, true)
	s.log.Info("model server started", "pid", pid, "cmd", strings.Join(s.opts.Command, " "))

	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); s.pump(outR, "stdout") }()
	go func() { defer pipes.Done(); s.pump(errR, "stderr") }()
	defer func() {
		// The group goes with the server: leftovers would hold its port.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		drained := make(chan struct{})
		go func() { pipes.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		outR.Close()
		errR.Close()
		<-drained
	}()

	select {
	case err := <-waited:
		s.setRunning(pid, false)
		s.noteExit(err)
		return exitErr(err)
	case <-ctx.Done():
	}
	sig := stopSignal(ctx)
	s.log.Info("stopping model server", "pid", pid, "signal", sig.String(), "grace", s.opts.Grace.String())
	_ = syscall.Kill(-pid, sig)
	t := time.NewTimer(s.opts.Grace)
	defer t.Stop()
	select {
	case err := <-waited:
		s.setRunning(pid, false)
		s.noteExit(err)
		return exitErr(err)
	case <-t.C:
	}
	s.log.Warn("model server did not stop in time; killing its process group", "pid", pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	err = <-waited
	s.setRunning(pid, false)
	s.noteExit(err)
	return exitErr(err)
}

func (s *Supervisor) setRunning(pid int, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pid, s.running = pid, running
}

func (s *Supervisor) noteExit(err error) {
	desc := "exit status 0"
	if err != nil {
		desc = err.Error()
	}
	desc = time.Now().UTC().Format(time.RFC3339) + " " + desc
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exits = append(s.exits, desc)
	if len(s.exits) > 20 {
		s.exits = s.exits[len(s.exits)-20:]
	}
}

func exitErr(err error) error {
	if err == nil {
		return errors.New("supervise: the model server exited with status 0")
	}
	return fmt.Errorf("supervise: the model server exited: %w", err)
}

// pump copies lines of the child's output to the log and the ring. Lines
// longer than 64 KiB are cut.
func (s *Supervisor) pump(r io.Reader, stream string) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := strings.TrimRight(string(line), "\r\n")
			s.ring.Add(text)
			s.log.Info(text, "stream", stream)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return
		}
	}
}

// stopSignal picks the signal to forward: SIGINT when ctx was cancelled by
// an interrupt, SIGTERM otherwise.
func stopSignal(ctx context.Context) syscall.Signal {
	if c := context.Cause(ctx); c != nil && strings.HasPrefix(c.Error(), "interrupt") {
		return syscall.SIGINT
	}
	return syscall.SIGTERM
}
