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

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/trim"
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
		xf, err := xplane.Open(countingReaderAt{l.f, &l.read}, l.size)
		if err != nil {
			return err
		}
		if err := xf.Walk(l.ctx, x); err != nil {
			return err
		}
		ld = xf
	case FormatTraceJSON:
		r := bufio.NewReaderSize(countingReader{l.f, &l.read}, blockSize)
		st, err := tracejson.Walk(l.ctx, r, x, tracejson.WalkOptions{})
		if err != nil {
			return err
		}
		l.res.Uncompressed = st.Bytes
		jl := tracejson.NewLoader(newBlockCache(l.f, l.size))
		jl.SetFrameworkOps(st.FrameworkOps)
		ld = jl
	case FormatGzipJSON:
		zr, err := gzip.NewReader(bufio.NewReaderSize(countingReader{l.f, &l.read}, 256<<10))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadGzip, err)
		}
		pipe := newBlockPipe(l.ctx, zr, l.gzipErr)
		st, err := tracejson.Walk(l.ctx, pipe, x, tracejson.WalkOptions{})
		pipe.Close()
		if err != nil {
			return err
		}
		if pipe.err != nil {
			return pipe.err
		}
		l.res.Uncompressed = st.Bytes
		// Kept events are loaded in stream order, so decoding the file once
		// more costs less than keeping the whole stream on disk.
		jl := tracejson.NewLoader(newBlockCache(&gzReaderAt{f: l.f}, st.Bytes))
		jl.SetFrameworkOps(st.FrameworkOps)
		ld = jl
	default:
		return fmt.Errorf("%w: %s", ErrUnknownFormat, l.res.Format)
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

// gzReaderAt reads a gzip file's uncompressed stream at increasing offsets
// by decoding it again; a read behind the decoder restarts it from the top.
type gzReaderAt struct {
	f   *os.File
	zr  *gzip.Reader
	pos int64
}

// ReadAt implements io.ReaderAt.
func (g *gzReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if g.zr == nil || off < g.pos {
		if _, err := g.f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		br := bufio.NewReaderSize(g.f, 256<<10)
		if g.zr == nil {
			zr, err := gzip.NewReader(br)
			if err != nil {
				return 0, fmt.Errorf("%w: %v", ErrBadGzip, err)
			}
			g.zr = zr
		} else if err := g.zr.Reset(br); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrBadGzip, err)
		}
		g.pos = 0
	}
	if skip := off - g.pos; skip > 0 {
		n, err := io.CopyN(io.Discard, g.zr, skip)
		g.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := io.ReadFull(g.zr, p)
	g.pos += int64(n)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
