// Package load turns a path into a trimmed capture: it finds the file (a
// capture file, a run folder, or a profile root holding run folders), detects
// its format by content, streams it through the right reader into the
// trimmer, and cleans up its temporary files.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Errors.
var (
	// ErrEmptyFile means the file has no bytes at all.
	ErrEmptyFile = errors.New("load: the file is empty (0 bytes): the profiler wrote nothing; check its log and capture again")
	// ErrUnknownFormat means the content is none of the formats fleetprof reads.
	ErrUnknownFormat = errors.New("load: unknown format: expected an .xplane.pb (XSpace protobuf), a trace JSON (.trace.json, .trace.json.gz, perfetto_trace.json.gz) or an .fpcap")
	// ErrTruncatedGzip means the gzip stream ends early.
	ErrTruncatedGzip = errors.New("load: the gzip stream is truncated: the file was cut short (copy it again, or wait until the profiler has finished writing it)")
	// ErrBadGzip means the gzip stream is corrupt.
	ErrBadGzip = errors.New("load: the gzip stream is corrupt")
	// ErrNoCapture means a folder holds no capture file.
	ErrNoCapture = errors.New("load: no capture file found (looked for *.xplane.pb, *.trace.json.gz, *.trace.json, *.fpcap and plugins/profile/<run>/ folders)")
	// ErrManyHosts means a run folder holds several hosts and none was chosen.
	ErrManyHosts = errors.New("load: the run folder holds several hosts: choose one with --host NAME, or read each of them with --host all")
	// ErrNoRun means the requested run folder does not exist.
	ErrNoRun = errors.New("load: no such run folder")
)

// Options tune loading. The zero value works.
type Options struct {
	// Trim holds the trimming options (gap, pad). Its Spill is ignored: load
	// makes its own temporary files.
	Trim trim.Options
	// Run picks a run folder of a profile root by name (e.g.
	// "2026_02_05_20_15_30"). Empty means the newest.
	Run string
	// Host picks a host's file in a run folder. Empty is fine when there is
	// only one host.
	Host string
	// TempDir holds the temporary files, removed before File returns: the
	// trimmer's index (about 14 bytes per event) and, for gzip input, an S2
	// copy of the decoded stream (about a tenth of its size) the kept events
	// are read back from. Empty means os.TempDir().
	TempDir string
	// Progress, if set, is called now and then with the source bytes read so
	// far and the source's size.
	Progress func(done, total int64)
	// Logger receives debug logs. Nil discards them.
	Logger *slog.Logger
}

// Format names an input format.
type Format string

// The formats fleetprof reads.
const (
	FormatXPlane    Format = "xplane"
	FormatTraceJSON Format = "trace_json"
	FormatGzipJSON  Format = "trace_json_gz"
	FormatFpcap     Format = "fpcap"
)

// File loads the capture at path and trims it.
func File(ctx context.Context, path string, opts Options) (*capture.Capture, error) {
	res, err := FileResult(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return res.Capture, nil
}

// Result is a loaded capture with facts about the load.
type Result struct {
	// Capture is the trimmed capture.
	Capture *capture.Capture
	// Path is the file that was read.
	Path string
	// Format is the format detected.
	Format Format
	// Size is the file's size in bytes.
	Size int64
	// Uncompressed is the size of the decompressed stream for gzip input.
	Uncompressed int64
	// UnsortedLines counts lines whose events were out of time order.
	UnsortedLines int
}

// FileResult is File with facts about the load.
func FileResult(ctx context.Context, path string, opts Options) (*Result, error) {
	file, err := Resolve(path, opts.Run, opts.Host)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	res := &Result{Path: file, Size: st.Size()}
	if st.Size() == 0 {
		if isXPlaneName(file) {
			return nil, fmt.Errorf("%s: %w", file, xplaneEmpty())
		}
		return nil, fmt.Errorf("%s: %w", file, ErrEmptyFile)
	}
	res.Format, err = Detect(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if res.Format == FormatFpcap {
		c, err := fpcap.Read(io.NewSectionReader(f, 0, st.Size()))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		res.Capture = c
		return res, nil
	}
	l := &loader{ctx: ctx, opts: opts, f: f, size: st.Size(), res: res}
	if err := l.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	res.Capture.Source.Name = filepath.Base(file)
	return res, nil
}
