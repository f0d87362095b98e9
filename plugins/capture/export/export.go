// Package export writes a trimmed capture in the format a file name asks for:
// Chrome trace JSON (.trace.json, .trace.json.gz, .json, .json.gz) for
// Perfetto and chrome://tracing, XSpace (.xplane.pb) for XProf/TensorBoard,
// or fleetprof's own .fpcap.
package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/capture/tracejsonw"
	"github.com/fleetprof/fleetprof/plugins/capture/xplanew"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Format is an output format.
type Format string

// The formats export writes.
const (
	TraceJSON   Format = "trace.json"
	TraceJSONGz Format = "trace.json.gz"
	XPlane      Format = "xplane.pb"
	Fpcap       Format = "fpcap"
)

// ErrUnknownFormat means the output name ends in no known extension.
var ErrUnknownFormat = errors.New("export: unknown output format: name the output .trace.json.gz, .trace.json, .xplane.pb or .fpcap")

// FormatOf returns the format a file name asks for.
func FormatOf(name string) (Format, error) {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".json.gz"):
		return TraceJSONGz, nil
	case strings.HasSuffix(n, ".json"):
		return TraceJSON, nil
	case strings.HasSuffix(n, ".xplane.pb"), strings.HasSuffix(n, ".pb"):
		return XPlane, nil
	case strings.HasSuffix(n, ".fpcap"):
		return Fpcap, nil
	}
	return "", fmt.Errorf("%w (got %q)", ErrUnknownFormat, filepath.Base(name))
}

// Write writes c to w in format f.
func Write(w io.Writer, f Format, c *capture.Capture) error {
	switch f {
	case TraceJSON:
		return tracejsonw.Write(w, c)
	case TraceJSONGz:
		return writeGzip(w, func(w io.Writer) error { return tracejsonw.Write(w, c) })
	case XPlane:
		return xplanew.Write(w, c)
	case Fpcap:
		return fpcap.Write(w, c)
	}
	return fmt.Errorf("%w (format %q)", ErrUnknownFormat, f)
}

// File writes c to path, in the format its name asks for, atomically: into a
// temporary file beside it, renamed into place once complete. It returns the
// bytes written.
func File(path string, c *capture.Capture) (int64, error) {
	f, err := FormatOf(path)
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("export: %w", err)
	}
	if err := Write(tmp, f, c); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	st, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	return st.Size(), nil
}
