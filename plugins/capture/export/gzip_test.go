package export

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func TestWriteGzip(t *testing.T) {
	long := strings.Repeat("fleetprof trace json 0123456789 ", 200_000) // 6.4 MB: several blocks
	for _, n := range []int{0, 1, firstBlock - 1, firstBlock, firstBlock + 1, gzipBlock + 1, len(long)} {
		want := long[:n]
		var buf bytes.Buffer
		err := writeGzip(&buf, func(w io.Writer) error {
			for i := 0; i < len(want); i += 7777 {
				if _, err := io.WriteString(w, want[i:min(i+7777, len(want))]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || string(got) != want {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", n, len(got), err)
		}
	}
}

// failAfter fails every write after n bytes.
type failAfter struct{ n int }

var errDisk = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errDisk
	}
	return len(p), nil
}

func TestWriteGzipErrors(t *testing.T) {
	// The output fails: the producer learns of it and stops early. The
	// bytes do not compress (a random block repeated farther apart than
	// deflate's window), so the output passes its buffer soon.
	written := 0
	b := make([]byte, 1<<16)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	err := writeGzip(&failAfter{n: 1000}, func(w io.Writer) error {
		for range 4096 { // up to 256 MB
			n, err := w.Write(b)
			written += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, errDisk) {
		t.Errorf("writeGzip to a failing writer = %v, want %v", err, errDisk)
	}
	if written > 64<<20 {
		t.Errorf("the producer went on for %d bytes after the output failed", written)
	}
	// The producer fails: its error comes back.
	boom := errors.New("boom")
	if err := writeGzip(io.Discard, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("writeGzip(failing producer) = %v, want %v", err, boom)
	}
}
