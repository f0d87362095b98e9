package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/sglang"
)

// HTTPOptions configure the sglang-jax HTTP backend. The zero value works.
type HTTPOptions struct {
	// Poll is how often to poll /profile_status while waiting for num_steps.
	// Zero means 200ms.
	Poll time.Duration
	// StepsTimeout bounds the wait for num_steps when the request has no
	// duration. Zero means 2m.
	StepsTimeout time.Duration
	// FolderWait is how long to wait for the run folder to appear after the
	// profile stopped. Zero means 10s.
	FolderWait time.Duration
	// Settle is how long a num_steps profile may keep running after its
	// workload ended before the backend stops it. Zero means 2s.
	Settle time.Duration
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
}

// HTTP profiles through sglang-jax's /start_profile and /stop_profile.
type HTTP struct {
	c    *sglang.Client
	opts HTTPOptions
	log  *slog.Logger
}

// NewHTTP returns the HTTP backend for the server c talks to.
func NewHTTP(c *sglang.Client, opts HTTPOptions) *HTTP {
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.StepsTimeout <= 0 {
		opts.StepsTimeout = 2 * time.Minute
	}
	if opts.FolderWait <= 0 {
		opts.FolderWait = 10 * time.Second
	}
	if opts.Settle <= 0 {
		opts.Settle = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTP{c: c, opts: opts, log: log.With("component", "backend", "backend", "http")}
}

// Name returns "http".
func (h *HTTP) Name() string { return "http" }

// Capture runs one profiling session: it checks the server is idle and the
// folder writable (the server's own errors carry no message), starts the
// profiler, runs During, waits for num_steps or the duration, stops, and
// finds the new run folder.
func (h *HTTP) Capture(ctx context.Context, req Request) (*Result, error) {
	status, err := h.c.ProfileStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("check the profiler is idle: %w", err)
	}
	if status == "in_progress" {
		return nil, ErrAlreadyProfiling
	}
	if err := checkWritable(req.Dir); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Dir, err)
	}
	before, err := runFolders(req.Dir)
	if err != nil {
		return nil, fmt.Errorf("list run folders: %w", err)
	}
	start := sglang.StartRequest{
		OutputDir:         req.Dir,
		NumSteps:          req.NumSteps,
		HostTracerLevel:   req.HostTracerLevel,
		PythonTracerLevel: req.PythonTracerLevel,
		DeviceTracerLevel: req.DeviceTracerLevel,
	}
	res := &Result{Started: time.Now()}
	if err := h.c.StartProfile(ctx, start); err != nil {
		return nil, h.startErr(ctx, err)
	}
	h.log.Info("profiling", "capture_id", req.ID, "dir", req.Dir, "num_steps", req.NumSteps, "duration", req.Duration.String())

	finished := false
	defer func() {
		if finished {
			return
		}
		// Never leave the profiler running: stop it even when ctx is gone.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := h.c.StopProfile(sctx); err != nil {
			h.log.Warn("stop profile after a failed capture", "capture_id", req.ID, "err", err)
		}
	}()

	res.DuringErr = h.profile(ctx, req)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.NumSteps > 0 {
		if err := h.waitIdle(ctx, req); err != nil {
			return nil, err
		}
		finished = true
		res.Stopped = time.Now()
	} else {
		finished = true
		// The profiler stops when it gets the request; the answer comes
		// only once the files are written, which is not profiled time.
		res.Stopped = time.Now()
		if err := h.c.StopProfile(ctx); err != nil {
			return nil, h.stopErr(ctx, err)
		}
	}
	run, err := newRunFolder(ctx, req.Dir, before, h.opts.FolderWait)
	if err != nil {
		return nil, err
	}
	res.RunDir = run
	res.Files, res.RawBytes, err = listFiles(run)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", run, err)
	}
	return res, nil
}

// profile runs During and waits out the duration; it returns During's error.
func (h *HTTP) profile(ctx context.Context, req Request) error {
	d := req.Duration
	if d <= 0 && req.During == nil && req.NumSteps <= 0 {
		d = 2 * time.Second
	}
	if req.NumSteps > 0 {
		d = 0 // the duration bounds the wait for the steps instead
	}
	var derr error
	t := time.NewTimer(d)
	defer t.Stop()
	if req.During != nil {
		derr = req.During(ctx)
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return derr
}

func (h *HTTP) waitIdle(ctx context.Context, req Request) error {
	limit := h.opts.StepsTimeout
	if req.Duration > 0 {
		limit = req.Duration
	}
	if req.During != nil {
		// The workload's requests made the steps; sglang-jax stops a
		// num_steps profile only when the next step begins, so with no
		// more traffic it waits: stop it ourselves after a short settle.
		limit = min(limit, h.opts.Settle)
	}
	deadline := time.Now().Add(limit)
	t := time.NewTicker(h.opts.Poll)
	defer t.Stop()
	for {
		st, err := h.c.ProfileStatus(ctx)
		if err != nil {
			return fmt.Errorf("wait for %d steps: %w", req.NumSteps, err)
		}
		if st == "idle" {
			return nil
		}
		if time.Now().After(deadline) {
			if req.During == nil {
				// The deferred stop in Capture ends it: the steps never came.
				return fmt.Errorf("%w: %d forward steps did not run within %v: send requests while profiling (a workload) or use a duration", ErrTimeout, req.NumSteps, limit)
			}
			h.log.Info("num_steps profile still running after the workload; stopping it", "capture_id", req.ID, "num_steps", req.NumSteps)
			if err := h.c.StopProfile(ctx); err != nil {
				if err := h.stopErr(ctx, err); !errors.Is(err, ErrNothingToStop) {
					return err
				}
				// It stopped on its own meanwhile.
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// startErr names a /start_profile failure by looking at the server again.
func (h *HTTP) startErr(ctx context.Context, err error) error {
	var se *sglang.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusInternalServerError {
		return fmt.Errorf("start profile: %w", err)
	}
	if st, serr := h.c.ProfileStatus(ctx); serr == nil && st == "in_progress" {
		return fmt.Errorf("start profile: %w", ErrAlreadyProfiling)
	}
	return fmt.Errorf("start profile: %w", ErrStartFailed)
}

// stopErr names a /stop_profile failure.
func (h *HTTP) stopErr(ctx context.Context, err error) error {
	var se *sglang.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusInternalServerError {
		return fmt.Errorf("stop profile: %w", err)
	}
	if st, serr := h.c.ProfileStatus(ctx); serr == nil && st == "idle" {
		return fmt.Errorf("stop profile: %w", ErrNothingToStop)
	}
	return fmt.Errorf("stop profile: %w", err)
}
