package load

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Sizes of the block pipe.
const (
	// blockSize is the size of the blocks a source is read in.
	blockSize = 1 << 20
	// headroom is the free room before each block's data, where the
	// walker's unread bytes of the previous block are copied, so that an
	// event cut by a block's end is whole again without copying the block.
	headroom = 64 << 10
	// pipeBlocks bounds the blocks in flight: the walker's, the reader's,
	// the copier's and those queued between them.
	pipeBlocks = 8
)

// block is one block of the stream: data at buf[headroom:headroom+n].
type block struct {
	buf []byte
	n   int
	// refs counts who still reads the block (the walker, the copier); the
	// last one frees it.
	refs atomic.Int32
}

func (b *block) data() []byte { return b.buf[headroom : headroom+b.n] }

// blockPipe reads a stream on a goroutine of its own (so that decoding and
// parsing use both cores) into a few fixed blocks, and hands each block to
// the walker — as a tracejson.BlockReader, without copying it. A copy
// function, when given, sees each block, in order, on a third goroutine:
// on the reading one it made reading the slower side of the pipe
// (decoding a gzipped stream and compressing its copy, against walking
// and indexing it; BENCHMARKS.md, "One goroutine fewer").
type blockPipe struct {
	full  chan *block // to the walker
	toCpy chan *block // to the copier
	free  chan *block
	err   error // set by the producer before it closes full

	cur  *block // the walker's block
	over []byte // the walker's bytes when they outgrow headroom
	rd   []byte // unread bytes of cur, for Read

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newBlockPipe starts reading src. wrapErr turns a read error into the
// error the walker gets. copy, if not nil, is called with each block, in
// order, before the walker gets it; its error stops the pipe and is the
// walker's.
func newBlockPipe(ctx context.Context, src io.Reader, wrapErr func(error) error, copy func([]byte) error) *blockPipe {
	ctx, cancel := context.WithCancel(ctx)
	p := &blockPipe{full: make(chan *block, pipeBlocks-2), free: make(chan *block, pipeBlocks), cancel: cancel}
	for range pipeBlocks {
		p.free <- &block{buf: make([]byte, headroom+blockSize)}
	}
	// The copier: its error stops the producer and is the walker's.
	var copyErr error
	copied := make(chan struct{})
	if copy != nil {
		p.toCpy = make(chan *block, pipeBlocks)
		go func() {
			defer close(copied)
			for b := range p.toCpy {
				if copyErr == nil && ctx.Err() == nil {
					if copyErr = copy(b.data()); copyErr != nil {
						cancel()
					}
				}
				p.release(b)
			}
		}()
	} else {
		close(copied)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.full)
		// The walker sees the end (or an error) once the copy is whole.
		defer func() {
			if p.toCpy != nil {
				close(p.toCpy)
			}
			<-copied
			if copyErr != nil {
				p.err = copyErr
			}
		}()
		for {
			var b *block
			select {
			case b = <-p.free:
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
			n, err := fill(ctx, src, b.buf[headroom:])
			b.n = n
			if n > 0 {
				b.refs.Store(1)
				if p.toCpy != nil {
					b.refs.Store(2)
					p.toCpy <- b // never blocks: it holds every block
				}
				select {
				case p.full <- b:
				case <-ctx.Done():
					p.release(b)
					p.err = ctx.Err()
					return
				}
			} else {
				p.free <- b
			}
			switch {
			case errors.Is(err, io.EOF):
				return
			case ctx.Err() != nil:
				p.err = ctx.Err()
				return
			case err != nil:
				p.err = wrapErr(err)
				return
			}
		}
	}()
	return p
}

// release drops one reader of b; the last one frees it.
func (p *blockPipe) release(b *block) {
	if b.refs.Add(-1) == 0 {
		p.free <- b // never blocks: free holds every block
	}
}

// ReadBlock implements tracejson.BlockReader: keep is copied into the room
// before the next block's data (or, when it is larger, into a buffer of its
// own that grows by doubling), and the walker's previous block is released.
func (p *blockPipe) ReadBlock(keep []byte) ([]byte, error) {
	b, ok := <-p.full
	if !ok {
		// keep still lies in the walker's block, which stays held.
		if p.err != nil {
			return keep, p.err
		}
		return keep, io.EOF
	}
	var out []byte
	if len(keep) <= headroom {
		s := headroom - len(keep)
		copy(b.buf[s:headroom], keep)
		out = b.buf[s : headroom+b.n]
	} else {
		need := len(keep) + b.n
		switch {
		case cap(p.over) < need:
			nb := make([]byte, need, 2*need)
			copy(nb, keep)
			p.over = nb
		case len(p.over) > 0 && &keep[0] == &p.over[0]:
			// keep is where it must be (nothing was read from it).
			p.over = p.over[:need]
		default:
			p.over = p.over[:need]
			copy(p.over, keep)
		}
		copy(p.over[len(keep):], b.data())
		out = p.over
	}
	if p.cur != nil {
		p.release(p.cur)
		p.cur = nil
	}
	if len(keep) <= headroom {
		p.cur = b
	} else {
		p.release(b)
	}
	return out, nil
}

// Read implements io.Reader over the blocks.
func (p *blockPipe) Read(b []byte) (int, error) {
	if len(p.rd) == 0 {
		blk, err := p.ReadBlock(nil)
		if len(blk) == 0 {
			return 0, err
		}
		p.rd = blk
	}
	n := copy(b, p.rd)
	p.rd = p.rd[n:]
	return n, nil
}

// fill reads into buf until it is full, src fails or ctx is done; io.EOF
// means a clean end.
func fill(ctx context.Context, src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close stops the producer, releases the walker's blocks and waits.
func (p *blockPipe) Close() {
	p.cancel()
	for b := range p.full {
		p.release(b)
	}
	if p.cur != nil {
		p.release(p.cur)
		p.cur = nil
	}
	p.wg.Wait()
}
