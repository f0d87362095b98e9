package export

import (
	"bufio"
	"io"
	"slices"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
)

// Sizes of the compressing writer's buffers. They are made as the output
// needs them, the first one growing from firstBlock: a trimmed capture is
// often a few kilobytes, and each fresh page of a short command's heap
// costs a fault (10-40 µs on a VM).
const (
	gzipBlock  = 1 << 20
	gzipBlocks = 3
	firstBlock = 64 << 10
)

// outBuf buffers the compressor's output: it writes a few hundred bytes at
// a time, which to a file is a system call each (23,000 of them, 70 ms, for
// a 5.6 MB trimmed capture).
const outBuf = 256 << 10

// writeGzip writes what write produces to w, gzipped at the fastest level,
// compressing on a goroutine of its own: making the output and compressing
// it then use two cores.
func writeGzip(w io.Writer, write func(io.Writer) error) error {
	out := bufio.NewWriterSize(w, outBuf)
	zw, err := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	bw := &blockWriter{full: make(chan []byte, gzipBlocks), free: make(chan []byte, gzipBlocks), done: make(chan struct{})}
	bw.cur, bw.made = make([]byte, 0, firstBlock), 1
	go func() {
		defer close(bw.done)
		for b := range bw.full {
			if bw.err == nil {
				if _, err := zw.Write(b); err != nil {
					bw.err = err
					bw.failed.Store(true)
				}
			}
			bw.free <- b[:0]
		}
		if bw.err == nil {
			bw.err = zw.Close()
		}
		if bw.err == nil {
			bw.err = out.Flush()
		}
	}()
	err = write(bw)
	if len(bw.cur) > 0 {
		bw.full <- bw.cur
	}
	close(bw.full)
	<-bw.done
	if err != nil {
		return err
	}
	return bw.err
}

// blockWriter gathers writes into blocks for writeGzip's goroutine. err is
// the goroutine's: the writer reads it once failed is set or done closed.
type blockWriter struct {
	full, free chan []byte
	cur        []byte
	made       int // blocks made
	done       chan struct{}
	failed     atomic.Bool
	err        error
}

// Write implements io.Writer.
func (bw *blockWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if bw.failed.Load() {
			return n - len(p), bw.err
		}
		k := copy(bw.cur[len(bw.cur):cap(bw.cur)], p)
		bw.cur = bw.cur[:len(bw.cur)+k]
		p = p[k:]
		if len(bw.cur) == cap(bw.cur) {
			if cap(bw.cur) < gzipBlock {
				bw.cur = slices.Grow(bw.cur, min(2*cap(bw.cur), gzipBlock)-len(bw.cur))
				continue
			}
			bw.full <- bw.cur
			bw.cur = bw.next()
		}
	}
	return n, nil
}

// next returns a free block, making one while fewer than gzipBlocks exist.
func (bw *blockWriter) next() []byte {
	select {
	case b := <-bw.free:
		return b
	default:
	}
	if bw.made < gzipBlocks {
		bw.made++
		return make([]byte, 0, gzipBlock)
	}
	return <-bw.free
}
