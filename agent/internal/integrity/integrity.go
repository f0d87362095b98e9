// Package integrity names what is wrong with a capture: an empty trace, a
// 0-byte XSpace, no device plane, an event cap reached, device tracing
// asked for but not done. Each finding is a named check with a detail for
// people; a capture with findings is still kept when anything is left.
package integrity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

// The check names.
const (
	// EmptyTrace: the profiler traced nothing.
	EmptyTrace = "empty_trace"
	// ZeroByteXSpace: the .xplane.pb is 0 bytes (sglang-jax over 2 GB).
	ZeroByteXSpace = "zero_byte_xspace"
	// NoDevicePlane: no device plane or no device ops: device tracing was off.
	NoDevicePlane = "no_device_plane"
	// EventCapReached: the event count equals a profiler cap: the trace was cut.
	EventCapReached = "event_cap_reached"
	// DeviceTracerIgnored: device tracing was requested but the trace is CPU-only.
	DeviceTracerIgnored = "device_tracer_ignored"
)

// Errors.
var (
	// ErrNothingLeft means no usable trace remains after the checks.
	ErrNothingLeft = errors.New("integrity: nothing usable in the profiler output")
)

// Checks maps a check name to its detail.
type Checks map[string]string

// Names returns the check names, sorted.
func (c Checks) Names() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Context returns the checks as capture context entries "check.<name>".
func (c Checks) Context() map[string]string {
	m := make(map[string]string, len(c))
	for k, v := range c {
		m["check."+k] = v
	}
	return m
}

// Options say what was asked of the profiler.
type Options struct {
	// DeviceRequested is true when device tracing was asked for (a device
	// tracer level above 0).
	DeviceRequested bool
	// EmptyTrace is the profiler's own "empty trace" flag.
	EmptyTrace bool
	// Trim holds the window parameters. AllowNoDevice is always set.
	Trim trim.Options
	// TempDir holds temporary files. Empty means os.TempDir().
	TempDir string
}

const (
	detailNoDevice = "no device plane: device tracing was off (sglang-jax ignores device_tracer_level unless patched; " +
		"the JAX profiler service honours it with opts.version=1): the capture holds host events only"
	detailIgnored = "device tracing was requested (device_tracer_level > 0) but the trace is CPU-only: " +
		"the server ignored it (sglang-jax ignores device_tracer_level unless patched)"
)

// Load reads the profile in runDir and trims it, recording findings. A
// 0-byte .xplane.pb falls back to the .trace.json.gz beside it; a CPU-only
// trace is kept. It returns ErrNothingLeft (wrapped, with the checks) when
// nothing can be read.
func Load(ctx context.Context, runDir string, opts Options) (*load.Result, Checks, error) {
	checks := Checks{}
	if opts.EmptyTrace {
		checks[EmptyTrace] = "the profiler reported an empty trace: nothing ran while it profiled"
	}
	path := runDir
	zero, alt := zeroXSpace(runDir)
	if zero != "" {
		checks[ZeroByteXSpace] = fmt.Sprintf("%s is 0 bytes: the XSpace passed 2 GB (sglang-jax PR 1511); "+
			"capture a shorter window or lower the host/python tracer levels", filepath.Base(zero))
		if alt == "" {
			return nil, checks, fmt.Errorf("%w: %s is 0 bytes and no .trace.json.gz was written beside it", ErrNothingLeft, zero)
		}
		path = alt
	}
	topts := opts.Trim
	topts.AllowNoDevice = true
	res, err := load.FileResult(ctx, path, load.Options{Trim: topts, TempDir: opts.TempDir})
	switch {
	case errors.Is(err, xplane.ErrEmpty):
		checks[ZeroByteXSpace] = "the .xplane.pb is 0 bytes"
		return nil, checks, fmt.Errorf("%w: %w", ErrNothingLeft, err)
	case errors.Is(err, trim.ErrEmpty), errors.Is(err, load.ErrNoCapture):
		checks[EmptyTrace] = "the trace holds no events: nothing ran while profiling (send requests: a workload)"
		return nil, checks, fmt.Errorf("%w: %w", ErrNothingLeft, err)
	case err != nil:
		return nil, checks, err
	}
	for k, v := range Capture(res.Capture, opts.DeviceRequested) {
		checks[k] = v
	}
	return res, checks, nil
}

// Capture checks a loaded capture.
func Capture(c *capture.Capture, deviceRequested bool) Checks {
	checks := Checks{}
	if c.EventsTotal == 0 {
		checks[EmptyTrace] = "the trace holds no events"
		return checks
	}
	if len(c.Devices()) == 0 {
		checks[NoDevicePlane] = detailNoDevice
		if deviceRequested {
			checks[DeviceTracerIgnored] = detailIgnored
		}
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "event cap") {
			checks[EventCapReached] = w
		}
	}
	return checks
}

// zeroXSpace returns a 0-byte .xplane.pb in dir and a .trace.json.gz beside
// it, if any.
func zeroXSpace(dir string) (zero, alt string) {
	m, _ := filepath.Glob(filepath.Join(dir, "*.xplane.pb"))
	for _, p := range m {
		st, err := os.Stat(p)
		if err != nil || st.Size() != 0 {
			continue
		}
		zero = p
		j := strings.TrimSuffix(p, ".xplane.pb") + ".trace.json.gz"
		if st, err := os.Stat(j); err == nil && st.Size() > 0 {
			alt = j
		}
		return zero, alt
	}
	return "", ""
}
