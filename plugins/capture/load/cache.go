package load

import (
	"io"
	"sync"
)

// blockCache is an io.ReaderAt that reads its source in aligned blocks and
// keeps the last few, so that loading thousands of kept events — which come
// in nearly file order — costs a few large reads instead of a system call
// each.
type blockCache struct {
	r    io.ReaderAt
	size int64

	mu     sync.Mutex
	blocks [4]cachedBlock
	next   int // slot to reuse
}

type cachedBlock struct {
	off  int64
	data []byte
}

const cacheBlock = 256 << 10

func newBlockCache(r io.ReaderAt, size int64) *blockCache {
	c := &blockCache{r: r, size: size}
	for i := range c.blocks {
		c.blocks[i].off = -1
	}
	return c
}

// ReadAt implements io.ReaderAt.
func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > cacheBlock {
		return c.r.ReadAt(p, off)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= c.size {
			return n, io.EOF
		}
		b, err := c.block(at - at%cacheBlock)
		if err != nil {
			return n, err
		}
		i := int(at % cacheBlock)
		if i >= len(b) {
			return n, io.EOF
		}
		n += copy(p[n:], b[i:])
	}
	return n, nil
}

func (c *blockCache) block(off int64) ([]byte, error) {
	for i := range c.blocks {
		if c.blocks[i].off == off {
			return c.blocks[i].data, nil
		}
	}
	slot := &c.blocks[c.next]
	c.next = (c.next + 1) % len(c.blocks)
	if cap(slot.data) < cacheBlock {
		slot.data = make([]byte, cacheBlock)
	}
	want := min(int64(cacheBlock), c.size-off)
	m, err := c.r.ReadAt(slot.data[:want], off)
	if int64(m) < want {
		slot.off = -1
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	slot.off, slot.data = off, slot.data[:m]
	return slot.data, nil
}
