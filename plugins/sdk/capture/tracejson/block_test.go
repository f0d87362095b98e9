package tracejson

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
)

// blocks is a BlockReader over data cut into blocks of the given size. It
// hands out a fresh slice each time and scribbles over the one it handed
// out before, so that a walker that kept using released memory reads
// garbage.
type blocks struct {
	data []byte
	size int
	last []byte
}

func (b *blocks) Read(p []byte) (int, error) {
	panic("Walk used Read on a BlockReader")
}

func (b *blocks) ReadBlock(keep []byte) ([]byte, error) {
	n := min(b.size, len(b.data))
	out := make([]byte, 0, len(keep)+n)
	out = append(out, keep...)
	out = append(out, b.data[:n]...)
	b.data = b.data[n:]
	for i := range b.last {
		b.last[i] = '#'
	}
	b.last = out
	if n == 0 {
		return out, io.EOF
	}
	return out, nil
}

// walkBoth walks data through a plain reader and through blocks of each
// size, and fails unless every walk gives the same events, stats and error.
func walkBoth(t *testing.T, data []byte, opts WalkOptions, sizes ...int) {
	t.Helper()
	var want capturetest.Recorder
	wantSt, wantErr := Walk(context.Background(), bytes.NewReader(data), &want, opts)
	for _, size := range sizes {
		var got capturetest.Recorder
		st, err := Walk(context.Background(), &blocks{data: data, size: size}, &got, opts)
		if errString(err) != errString(wantErr) {
			t.Fatalf("blocks of %d: error %v, want %v", size, err, wantErr)
		}
		// Bytes counts what was read, which differs between the two
		// when the walk stops early.
		if st.X != wantSt.X || st.Events != wantSt.Events || st.Complete != wantSt.Complete || (err == nil && st.Bytes != wantSt.Bytes) {
			t.Fatalf("blocks of %d: stats %+v, want %+v", size, st, wantSt)
		}
		if len(got.Events) != len(want.Events) || len(got.Planes) != len(want.Planes) {
			t.Fatalf("blocks of %d: %d events on %d planes, want %d on %d", size, len(got.Events), len(got.Planes), len(want.Events), len(want.Planes))
		}
		for i := range got.Events {
			if got.Events[i] != want.Events[i] {
				t.Fatalf("blocks of %d: event %d = %+v, want %+v", size, i, got.Events[i], want.Events[i])
			}
		}
	}
}

// TestWalkBlockReader checks that a BlockReader gives what a plain reader
// gives, whatever the block size, on real and generated fixtures, on every
// malformed input of TestWalkErrors and on truncated input.
func TestWalkBlockReader(t *testing.T) {
	td := fixtures.Dir(t)
	files, _ := filepath.Glob(filepath.Join(td, "*", "*.json*"))
	real, _ := filepath.Glob(filepath.Join(td, "real", "*", "*.json*"))
	for _, f := range append(files, real...) {
		if strings.HasSuffix(f, "truth.json") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			data := fixtures.ReadFile(t, f)
			sizes := []int{4093, 1 << 20}
			if len(data) < 1<<20 {
				sizes = append(sizes, 1, 13)
			}
			walkBoth(t, data, WalkOptions{}, sizes...)
		})
	}
	t.Run("sample cut short", func(t *testing.T) {
		for n := 0; n <= len(sample); n++ {
			walkBoth(t, []byte(sample[:n]), WalkOptions{}, 1, 64)
		}
	})
	t.Run("errors", func(t *testing.T) {
		deep := `{"traceEvents":[{"ph":"X","args":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}]}`
		for _, in := range []string{"", " ", "hello", `{"traceEvents":{}}`, `{"traceEvents":[{"ph":"X","name":"abc}]}`,
			`{"traceEvents":[{"ph":"X","pid":tru}]}`, `{"traceEvents":[{},]}`, `{"traceEvents":[]} x`, deep,
			`{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":-1},{}]}`,
			`{"metadata":"` + strings.Repeat("y", 5000) + `","traceEvents":[{"ph":"X","ts":1}]}`} {
			walkBoth(t, []byte(in), WalkOptions{}, 1, 7, 4096)
			walkBoth(t, []byte(in), WalkOptions{AllowTruncated: true}, 3)
		}
	})
}

// TestWalkBlockReaderTooLarge checks that an event carried across blocks
// is bounded by MaxEventBytes.
func TestWalkBlockReaderTooLarge(t *testing.T) {
	in := `{"traceEvents":[{"ph":"X","ts":1,"name":"` + strings.Repeat("x", 5000) + `"}]}`
	for _, size := range []int{1, 64, 999} {
		_, err := Walk(context.Background(), &blocks{data: []byte(in), size: size}, &capturetest.Recorder{}, WalkOptions{MaxEventBytes: 1000})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("Walk(blocks of %d, 5000-byte event, MaxEventBytes 1000) = %v, want ErrTooLarge", size, err)
		}
	}
}

// stuck is a BlockReader that never returns data.
type stuck struct{}

func (stuck) Read([]byte) (int, error)              { return 0, nil }
func (stuck) ReadBlock(keep []byte) ([]byte, error) { return keep, nil }

// failing is a BlockReader that fails.
type failing struct{ err error }

func (f failing) Read([]byte) (int, error)         { return 0, f.err }
func (f failing) ReadBlock([]byte) ([]byte, error) { return nil, f.err }

func TestWalkBlockReaderMisbehaves(t *testing.T) {
	if _, err := Walk(context.Background(), stuck{}, &capturetest.Recorder{}, WalkOptions{}); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("Walk(a block reader that gives nothing) = %v, want io.ErrNoProgress", err)
	}
	boom := errors.New("boom")
	if _, err := Walk(context.Background(), failing{err: boom}, &capturetest.Recorder{}, WalkOptions{}); !errors.Is(err, boom) {
		t.Errorf("Walk(a failing block reader) = %v, want its error", err)
	}
}

// FuzzWalkBlocks checks that reading by blocks gives what reading by Read
// gives, for any input and block size.
func FuzzWalkBlocks(f *testing.F) {
	f.Add([]byte(sample), uint8(5))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","pid":1,"tid":2,"ts":1.5,"dur":2,"name":"a"},{}]}`), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		walkBoth(t, data, WalkOptions{MaxDepth: 16}, 1+int(size))
	})
}
