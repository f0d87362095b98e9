package load

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func TestBlockCacheMatchesSource(t *testing.T) {
	src := make([]byte, 3*cacheBlock+12345)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(r.IntN(256))
	}
	c := newBlockCache(bytes.NewReader(src), int64(len(src)))
	for i := 0; i < 2000; i++ {
		off := r.Int64N(int64(len(src)))
		n := r.IntN(2 * cacheBlock)
		p := make([]byte, n)
		got, err := c.ReadAt(p, off)
		wantN := min(n, len(src)-int(off))
		if got != wantN || !bytes.Equal(p[:got], src[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes of the source", n, off, got, err, wantN)
		}
		if got < n && err == nil {
			t.Fatalf("short read at %d without an error", off)
		}
	}
	if _, err := c.ReadAt(make([]byte, 1), int64(len(src))); err != io.EOF {
		t.Errorf("read at the end: %v, want EOF", err)
	}
}
