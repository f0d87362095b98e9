package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

func xplaneEmpty() error { return xplane.ErrEmpty }

type loader struct {
	ctx  context.Context
	opts Options
	f    *os.File
	size int64
	res  *Result
	read atomic.Int64
}

func (l *loader) logger() *slog.Logger {
	if l.opts.Logger != nil {
		return l.opts.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (l *loader) tempFile(pattern string) (*os.File, func(), error) {
	f, err := os.CreateTemp(l.opts.TempDir, pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("create temporary file (set the temp dir with --tmp or TMPDIR): %w", err)
	}
	return f, func() { f.Close(); os.Remove(f.Name()) }, nil
}

func (l *loader) run() error {
	idx, cleanup, err := l.tempFile("fleetprof-*.idx")
	if err != nil {
		return err
	}
	defer cleanup()
	topts := l.opts.Trim
	topts.Spill = trim.FileSpill{F: idx}
	// A trace without device work is trimmed all the same, so that its
	// summaries tell which profiler wrote it (trim.CheckDevice, below).
	topts.AllowNoDevice = true
	x := trim.NewIndexer(topts)

	stop := l.progress()
	defer stop()

	var ld capture.Loader
	switch l.res.Format {
	case FormatXPlane:
		ld, err = l.xplane(x)
	case FormatTraceJSON, FormatGzipJSON:
		var done func()
		ld, done, err = l.traceJSON(x, l.res.Format == FormatGzipJSON)
		defer done()
	default:
		err = fmt.Errorf("%w: %s", ErrUnknownFormat, l.res.Format)
	}
	if err != nil {
		return err
	}
	tr, err := x.Finish(l.ctx, ld)
	if err != nil {
		return err
	}
	l.res.Capture = tr.Capture
	l.res.UnsortedLines = tr.UnsortedLines
	c := tr.Capture
	c.Source.Format = string(l.res.Format)
	if l.res.Format == FormatGzipJSON {
		c.Source.Format = string(FormatTraceJSON)
	}
	c.Source.Size = l.size
	if l.res.Uncompressed > 0 {
		c.Source.Size = l.res.Uncompressed
	}
	l.logger().Debug("loaded capture", "path", l.res.Path, "format", l.res.Format, "events", c.EventsTotal,
		"kept", c.EventsKept(), "spill_bytes", tr.SpillBytes, "unsorted_lines", tr.UnsortedLines)
	if !l.opts.Trim.AllowNoDevice {
		return trim.CheckDevice(c)
	}
	return nil
}

// xplane walks an XSpace into x, on this goroutine (handing each event to
// an indexing goroutine cost more than indexing it: BENCHMARKS.md, "One
// goroutine fewer"), and returns the file as the loader of its kept
// events, which it reads through a block cache: they come in file order, a
// few hundred bytes each.
func (l *loader) xplane(x *trim.Indexer) (capture.Loader, error) {
	open := func() (*xplane.File, error) {
		return xplane.Open(countingReaderAt{newBlockCache(l.f, l.size), &l.read}, l.size)
	}
	xf, err := open()
	if err != nil {
		return nil, err
	}
	if err := xf.Walk(l.ctx, x); err != nil {
		return nil, err
	}
	return &xplaneLoader{File: xf, open: open}, nil
}

// xplaneLoader loads an XSpace's kept events; a fork opens the file again
// (a few milliseconds: its metadata) with a block cache of its own.
type xplaneLoader struct {
	*xplane.File
	open func() (*xplane.File, error)
}

// Fork implements trim.Forker.
func (x *xplaneLoader) Fork() capture.Loader {
	f, err := x.open()
	if err != nil {
		return failedLoader{err}
	}
	return f
}

// failedLoader is a fork that could not be made: each Load says why.
type failedLoader struct{ err error }

func (f failedLoader) Load(capture.Ref, *capture.Event) error { return f.err }

// traceJSON walks a trace JSON, gzipped or not, into x: the file is read
// (and decoded) on one goroutine, walked and indexed on this one. Gzip
// input is decoded once: a third goroutine copies each decoded block,
// compressed with S2, to a temporary file (s2Copy), from which the kept
// events are loaded. done removes that file; the caller calls it once the
// kept events are loaded, whatever happened.
func (l *loader) traceJSON(x *trim.Indexer, gz bool) (_ capture.Loader, done func(), err error) {
	done = func() {}
	var src io.Reader = countingReader{l.f, &l.read}
	wrapErr := func(err error) error { return err }
	var cp *s2Copy
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(src, 256<<10))
		if err != nil {
			return nil, done, fmt.Errorf("%w: %v", ErrBadGzip, err)
		}
		src, wrapErr = zr, l.gzipErr
		f, remove, err := l.tempFile("fleetprof-*.s2")
		if err != nil {
			return nil, done, err
		}
		done, cp = remove, newS2Copy(f)
	}
	var copy func([]byte) error
	if cp != nil {
		copy = cp.write
	}
	pipe := newBlockPipe(l.ctx, src, wrapErr, copy)
	st, err := tracejson.Walk(l.ctx, pipe, x, tracejson.WalkOptions{})
	pipe.Close()
	if err != nil {
		return nil, done, err
	}
	l.res.Uncompressed = st.Bytes
	jl := &jsonLoader{fwk: st.FrameworkOps}
	if cp != nil {
		if cp.Size() != st.Bytes {
			return nil, done, fmt.Errorf("%w: %d bytes copied of %d", errBadCopy, cp.Size(), st.Bytes)
		}
		jl.open = func() io.ReaderAt { return cp.reader() }
	} else {
		jl.open = func() io.ReaderAt { return newBlockCache(l.f, l.size) }
	}
	jl.Loader = jl.fork()
	return jl, done, nil
}

// jsonLoader loads a trace JSON's kept events; each fork reads the stream
// through a cache of its own.
type jsonLoader struct {
	*tracejson.Loader
	open func() io.ReaderAt
	fwk  map[int64]string
}

func (j *jsonLoader) fork() *tracejson.Loader {
	l := tracejson.NewLoader(j.open())
	l.SetFrameworkOps(j.fwk)
	return l
}

// Fork implements trim.Forker.
func (j *jsonLoader) Fork() capture.Loader { return j.fork() }

func (l *loader) gzipErr(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (read %d of %d compressed bytes)", ErrTruncatedGzip, l.read.Load(), l.size)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("%w near compressed byte %d: %v", ErrBadGzip, l.read.Load(), err)
	}
	return fmt.Errorf("%w near compressed byte %d: %v", ErrBadGzip, l.read.Load(), err)
}

// progress reports the bytes read every half second until stopped.
func (l *loader) progress() func() {
	if l.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				l.opts.Progress(min(l.read.Load(), l.size), l.size)
			}
		}
	}()
	return func() { close(done); <-finished }
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
