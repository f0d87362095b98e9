// Package backend takes profiles from a model server: through sglang-jax's
// HTTP profiler endpoints, or through the JAX profiler's own gRPC service.
// Each backend turns the server's terse failures into named errors, and
// returns the folder the raw profile was written to.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Errors.
var (
	// ErrAlreadyProfiling means the server is already profiling.
	ErrAlreadyProfiling = errors.New("backend: the server is already profiling (GET /profile_status says in_progress): another session runs; wait for it to end or POST /stop_profile")
	// ErrDirNotWritable means the capture's output folder cannot be written.
	ErrDirNotWritable = errors.New("backend: the output folder is not writable: check the agent's --work-dir permissions and free space")
	// ErrNothingToStop means /stop_profile found no session: the server lost it (restarted?).
	ErrNothingToStop = errors.New("backend: nothing to stop: the server is not profiling any more (it may have restarted mid-capture)")
	// ErrStartFailed means /start_profile failed although the server was idle and the folder writable.
	ErrStartFailed = errors.New("backend: POST /start_profile answered HTTP 500 with no message although the server was idle and the folder writable: see the model server's log")
	// ErrNoRunFolder means the profiler wrote no plugins/profile/<run>/ folder.
	ErrNoRunFolder = errors.New("backend: the profiler wrote no plugins/profile/<run>/ folder: the server ran on another machine, or the trace was never written")
	// ErrNotLoopback means the profiler service address is not a loopback address.
	ErrNotLoopback = errors.New("backend: the JAX profiler service must be on a loopback address (127.0.0.1, ::1 or localhost): its answer is written on the server's disk and it has no authentication")
	// ErrNoXSpace means the profiler service returned no XSpace and wrote none.
	ErrNoXSpace = errors.New("backend: the profiler service returned no XSpace and wrote no .xplane.pb under repository_root/session_id")
	// ErrTimeout means the profile did not finish in time.
	ErrTimeout = errors.New("backend: the profile did not finish before its deadline")
)

// Request is one capture to take.
type Request struct {
	// ID names the capture.
	ID string
	// Dir is a fresh folder for this capture's raw output; the backend
	// creates it.
	Dir string
	// Duration is how long to profile. With NumSteps set, it bounds the
	// wait for the steps instead. Zero with no During means 2s.
	Duration time.Duration
	// NumSteps stops after this many forward steps (sglang-jax only).
	NumSteps int64
	// Tracer levels; nil leaves the server's default.
	HostTracerLevel, DeviceTracerLevel, PythonTracerLevel *int32
	// During, if set, runs while the profiler runs (the workload); the
	// profile lasts at least until it returns.
	During func(ctx context.Context) error
}

// Result is a finished capture's raw output.
type Result struct {
	// RunDir holds the profile: <host>.xplane.pb and perhaps <host>.trace.json.gz.
	RunDir string
	// Files are the files in RunDir.
	Files []string
	// RawBytes is their total size.
	RawBytes int64
	// EmptyTrace is the profiler's own "nothing traced" flag, if it has one.
	EmptyTrace bool
	// DuringErr is what During returned.
	DuringErr error
	// Started and Stopped bound the profiling session as the agent saw it:
	// from just before it asked the profiler to start to when it asked it to
	// stop (or the profile's duration ran out), not counting the time the
	// profiler then takes to write its files.
	Started, Stopped time.Time
}

// Backend takes one profile.
type Backend interface {
	// Name is "http" or "grpc".
	Name() string
	// Capture profiles the server and returns where the output is.
	Capture(ctx context.Context, req Request) (*Result, error)
}

// checkWritable makes dir and checks that a file can be written in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrDirNotWritable, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDirNotWritable, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// runFolders lists dir/plugins/profile/* folders.
func runFolders(dir string) (map[string]bool, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "plugins", "profile"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() {
			out[e.Name()] = true
		}
	}
	return out, nil
}

// newRunFolder waits up to wait for a plugins/profile/<run>/ folder not in
// before that holds a file, and returns the newest.
func newRunFolder(ctx context.Context, dir string, before map[string]bool, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		now, err := runFolders(dir)
		if err != nil {
			return "", err
		}
		var fresh []string
		for name := range now {
			if !before[name] {
				fresh = append(fresh, name)
			}
		}
		sort.Strings(fresh) // YYYY_MM_DD_HH_MM_SS sorts by time
		for i := len(fresh) - 1; i >= 0; i-- {
			run := filepath.Join(dir, "plugins", "profile", fresh[i])
			if files, _, _ := listFiles(run); len(files) > 0 {
				return run, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w (looked in %s)", ErrNoRunFolder, filepath.Join(dir, "plugins", "profile"))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listFiles returns the regular files in dir and their total size.
func listFiles(dir string) ([]string, int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	var files []string
	var total int64
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, filepath.Join(dir, e.Name()))
		total += info.Size()
	}
	return files, total, nil
}

// HostFileName is the host name as the profiler writes it in file names.
func HostFileName(host string) string {
	b := []byte(host)
	for i, c := range b {
		if c == ':' {
			b[i] = '_'
		}
	}
	return string(b)
}
