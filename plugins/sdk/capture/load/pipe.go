package load

import (
	"context"
	"errors"
	"io"
	"sync"
)

const blockSize = 1 << 20

// blockPipe decompresses on its own goroutine (so decoding and parsing use
// both cores) and hands each block to the reader side. At most four blocks are in flight.
type blockPipe struct {
	full   chan []byte
	free   chan []byte
	cur    []byte
	blk    []byte
	err    error // set by the producer before it closes full
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBlockPipe(ctx context.Context, src io.Reader, wrapErr func(error) error) *blockPipe {
	ctx, cancel := context.WithCancel(ctx)
	p := &blockPipe{full: make(chan []byte, 3), free: make(chan []byte, 4), cancel: cancel}
	for range 4 {
		p.free <- make([]byte, blockSize)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.full)
		for {
			var buf []byte
			select {
			case buf = <-p.free:
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
			n, err := fill(src, buf[:cap(buf)])
			if n > 0 {
				select {
				case p.full <- buf[:n]:
				case <-ctx.Done():
					p.err = ctx.Err()
					return
				}
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				p.err = wrapErr(err)
				return
			}
		}
	}()
	return p
}

// Read implements io.Reader over the blocks.
func (p *blockPipe) Read(b []byte) (int, error) {
	if len(p.cur) == 0 {
		if p.blk != nil {
			p.free <- p.blk
			p.blk = nil
		}
		blk, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.blk, p.cur = blk[:cap(blk)], blk
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// fill reads into buf until it is full or src fails; io.EOF means a clean end.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close stops the producer and waits for it.
func (p *blockPipe) Close() {
	p.cancel()
	for range p.full {
	}
	p.wg.Wait()
}
