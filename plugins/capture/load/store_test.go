package load

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// newTestCopy writes src to an s2Copy in blocks of random sizes.
func newTestCopy(t *testing.T, src []byte, r *rand.Rand) *s2Copy {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "copy-*.s2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	c := newS2Copy(f)
	for off := 0; off < len(src); {
		n := min(len(src)-off, 1+r.IntN(3*blockSize/2))
		if err := c.write(src[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	return c
}

// TestS2CopyMatchesSource reads a copy back at random places and sizes,
// across block ends, from several readers at once.
func TestS2CopyMatchesSource(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]byte, 4*blockSize+12345)
	const text = `{"ph":"X","ts":1}`
	for i := range src {
		// Compressible, like JSON, with noise.
		src[i] = text[i%len(text)]
		if r.IntN(10) == 0 {
			src[i] = byte(r.IntN(256))
		}
	}
	c := newTestCopy(t, src, r)
	if c.Size() != int64(len(src)) {
		t.Fatalf("Size = %d, want %d", c.Size(), len(src))
	}
	var wg sync.WaitGroup
	for g := range 3 {
		rd := c.reader()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 150 {
				off := r.Int64N(int64(len(src)))
				n := r.IntN(blockSize + 100)
				p := make([]byte, n)
				got, err := rd.ReadAt(p, off)
				wantN := min(n, len(src)-int(off))
				if got != wantN || !bytes.Equal(p[:got], src[off:off+int64(got)]) {
					t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d bytes of the source", n, off, got, err, wantN)
					return
				}
				if got < n && err != io.EOF {
					t.Errorf("short read at %d: %v, want io.EOF", off, err)
					return
				}
			}
		})
	}
	wg.Wait()
	rd := c.reader()
	if _, err := rd.ReadAt(make([]byte, 1), int64(len(src))); err != io.EOF {
		t.Errorf("read at the end: %v, want io.EOF", err)
	}
	if _, err := rd.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("read at -1: no error")
	}
}

// TestS2CopyDamaged checks that a copy whose file changed underneath reads
// as an error, not as wrong bytes or a panic.
func TestS2CopyDamaged(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	src := bytes.Repeat([]byte(`{"ph":"X","name":"fusion.1","ts":1770322541133790.963003},`), 60000)
	c := newTestCopy(t, src, r)
	for _, damage := range []func(f *os.File) error{
		func(f *os.File) error { return f.Truncate(c.index[len(c.index)-1].off + 3) },
		func(f *os.File) error {
			_, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 64), c.index[0].off)
			return err
		},
	} {
		if err := damage(c.f); err != nil {
			t.Fatal(err)
		}
		rd := c.reader()
		var err error
		for i := range c.index {
			if _, err = rd.ReadAt(make([]byte, 10), c.index[i].raw); err != nil {
				break
			}
		}
		if err == nil {
			t.Error("a damaged copy read without an error")
		}
	}
}

// TestS2CopyWriteFails checks that a failing temporary file fails the copy.
func TestS2CopyWriteFails(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "c.s2"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // writes now fail
	c := newS2Copy(f)
	if err := c.write([]byte("hello")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write to a closed file = %v, want os.ErrClosed", err)
	}
}
