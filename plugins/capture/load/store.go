package load

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// errBadCopy means the temporary copy of a decompressed stream did not read
// back as it was written (the temporary file changed underneath).
var errBadCopy = errors.New("load: the temporary copy of the stream is damaged")

// s2Copy is a copy of a decompressed stream, block by block, compressed
// with S2 into a temporary file as the stream is read, from which the kept
// events are read back afterwards: gzip input is then decoded once. On
// trace JSON S2 writes at about 2 GB/s on one core and keeps about a tenth
// of the bytes; reading an event back decodes only the block that holds it
// (about 0.3 ms for 1 MiB), and kept events come in stream order, so each
// block is decoded at most once or twice.
type s2Copy struct {
	f   *os.File
	enc []byte

	// index holds each block's place, in stream order.
	index []s2Block
	size  int64 // uncompressed bytes written
}

// s2Reader reads an s2Copy once it is written. Each has its own cache of
// decoded blocks: one per goroutine that loads events.
type s2Reader struct {
	c *s2Copy

	mu    sync.Mutex
	cache [2]s2Cached
	next  int // cache slot to reuse
	zbuf  []byte
}

type s2Block struct {
	raw    int64 // offset in the uncompressed stream
	rawLen int
	off    int64 // offset in the file
	n      int   // compressed length
}

type s2Cached struct {
	i    int // block index; -1 when empty
	data []byte
}

func newS2Copy(f *os.File) *s2Copy { return &s2Copy{f: f} }

// reader returns a reader of the copy written so far.
func (c *s2Copy) reader() *s2Reader {
	r := &s2Reader{c: c}
	for i := range r.cache {
		r.cache[i].i = -1
	}
	return r
}

// write appends the next block of the stream. The block pipe's copier
// calls it with each block, in order.
func (c *s2Copy) write(b []byte) error {
	if need := s2.MaxEncodedLen(len(b)); cap(c.enc) < need {
		c.enc = make([]byte, need)
	}
	enc := s2.Encode(c.enc[:cap(c.enc)], b)
	var off int64
	if n := len(c.index); n > 0 {
		off = c.index[n-1].off + int64(c.index[n-1].n)
	}
	if _, err := c.f.Write(enc); err != nil {
		return fmt.Errorf("load: write the stream's temporary copy: %w", err)
	}
	c.index = append(c.index, s2Block{raw: c.size, rawLen: len(b), off: off, n: len(enc)})
	c.size += int64(len(b))
	return nil
}

// Size returns the uncompressed bytes written.
func (c *s2Copy) Size() int64 { return c.size }

// ReadAt implements io.ReaderAt over the uncompressed stream.
func (r *s2Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("load: read the stream's copy at %d: %w", off, io.ErrUnexpectedEOF)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.c
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= c.size {
			return n, io.EOF
		}
		i, _ := slices.BinarySearchFunc(c.index, at, func(b s2Block, t int64) int {
			switch {
			case b.raw+int64(b.rawLen) <= t:
				return -1
			case b.raw > t:
				return 1
			}
			return 0
		})
		data, err := r.block(i)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], data[at-c.index[i].raw:])
	}
	return n, nil
}

// block returns block i decoded, from the cache or the file.
func (r *s2Reader) block(i int) ([]byte, error) {
	for k := range r.cache {
		if r.cache[k].i == i {
			return r.cache[k].data, nil
		}
	}
	b := r.c.index[i]
	if cap(r.zbuf) < b.n {
		r.zbuf = make([]byte, b.n)
	}
	z := r.zbuf[:b.n]
	if _, err := r.c.f.ReadAt(z, b.off); err != nil {
		return nil, fmt.Errorf("load: read the stream's temporary copy: %w", err)
	}
	if n, err := s2.DecodedLen(z); err != nil || n != b.rawLen {
		return nil, fmt.Errorf("%w: block %d", errBadCopy, i)
	}
	slot := &r.cache[r.next]
	r.next = (r.next + 1) % len(r.cache)
	slot.i = -1
	if cap(slot.data) < b.rawLen {
		slot.data = make([]byte, b.rawLen)
	}
	data, err := s2.Decode(slot.data[:cap(slot.data)], z)
	if err != nil || len(data) != b.rawLen {
		return nil, fmt.Errorf("%w: block %d", errBadCopy, i)
	}
	slot.i, slot.data = i, data
	return data, nil
}
