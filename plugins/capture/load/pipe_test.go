package load

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// TestBlockPipe reads a stream through the pipe as the walker does — by
// blocks, keeping unread ends of random sizes, some larger than the room
// before a block — while a copy function sees every block: both must see
// the stream exactly, and every block must go back to the pool.
func TestBlockPipe(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	src := make([]byte, 7*blockSize+777)
	for i := range src {
		src[i] = byte(r.IntN(256))
	}
	var copied []byte
	p := newBlockPipe(context.Background(), bytes.NewReader(src), func(err error) error { return err },
		func(b []byte) error { copied = append(copied, b...); return nil })
	var got []byte // the bytes consumed by the "walker"
	var keep []byte
	for {
		out, err := p.ReadBlock(keep)
		if len(out) < len(keep) {
			t.Fatalf("ReadBlock returned %d bytes for %d kept", len(out), len(keep))
		}
		if err == io.EOF {
			// The copy is whole when the walker sees the end: the loader
			// reads it next.
			if len(copied) != len(src) {
				t.Fatalf("at the walker's EOF the copy holds %d bytes of %d", len(copied), len(src))
			}
			got = append(got, out...)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Consume a random part, keep the rest: sometimes more than the
		// room before a block.
		n := len(out)
		switch r.IntN(4) {
		case 0:
			n -= min(n, headroom+r.IntN(3*blockSize))
		case 1:
			n -= min(n, r.IntN(headroom))
		}
		got = append(got, out[:n]...)
		keep = out[n:]
	}
	p.Close()
	if !bytes.Equal(got, src) {
		t.Fatalf("the walker read %d bytes, not the %d of the source", len(got), len(src))
	}
	if !bytes.Equal(copied, src) {
		t.Fatalf("the copy function got %d bytes, not the %d of the source", len(copied), len(src))
	}
	if n := len(p.free); n != pipeBlocks {
		t.Errorf("%d of %d blocks back in the pool", n, pipeBlocks)
	}
}

// TestBlockPipeRead reads the pipe as a plain io.Reader.
func TestBlockPipeRead(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789"), blockSize/3)
	p := newBlockPipe(context.Background(), bytes.NewReader(src), func(err error) error { return err }, nil)
	defer p.Close()
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("ReadAll = %d bytes, %v; want the %d of the source", len(got), err, len(src))
	}
}

// slowReader hands out a few bytes at a time, forever.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return copy(p, "xxxx"), nil
}

// TestBlockPipeStops checks that a failing source's error reaches the
// walker, and that Close and cancellation stop the producer: no goroutine
// is left behind.
func TestBlockPipeStops(t *testing.T) {
	before := runtime.NumGoroutine()
	boom := errors.New("boom")
	wrapped := errors.New("wrapped")
	p := newBlockPipe(context.Background(), io.MultiReader(bytes.NewReader(make([]byte, 3*blockSize)), iotestErr{boom}),
		func(err error) error {
			if errors.Is(err, boom) {
				return wrapped
			}
			return err
		}, func([]byte) error { return nil })
	var err error
	for err == nil {
		_, err = p.ReadBlock(nil)
	}
	if !errors.Is(err, wrapped) {
		t.Errorf("ReadBlock after the source failed = %v, want the wrapped error", err)
	}
	p.Close()

	// The copy fails: the walker gets its error.
	full := errors.New("disk full")
	p = newBlockPipe(context.Background(), bytes.NewReader(make([]byte, 3*blockSize)), func(err error) error { return err },
		func([]byte) error { return full })
	for err = nil; err == nil; {
		_, err = p.ReadBlock(nil)
	}
	if !errors.Is(err, full) {
		t.Errorf("ReadBlock after the copy failed = %v, want its error", err)
	}
	p.Close()

	ctx, cancel := context.WithCancel(context.Background())
	p = newBlockPipe(ctx, slowReader{}, func(err error) error { return err }, nil)
	cancel()
	for err = nil; err == nil; {
		_, err = p.ReadBlock(nil)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ReadBlock after cancel = %v, want context.Canceled", err)
	}
	p.Close()

	p = newBlockPipe(context.Background(), slowReader{}, func(err error) error { return err }, nil)
	p.Close() // while the producer is reading

	checkGoroutines(t, before)
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
