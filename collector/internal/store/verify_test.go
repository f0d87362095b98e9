package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// filledStore writes a closed store of n captures of size bytes each and
// returns its path.
func filledStore(t testing.TB, n, size int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("fpcap "), size/6+1)[:size]
	for i := range n {
		id := fmt.Sprintf("cap-%05d", i)
		stageTB(t, db, id, "agent-1", blob[:size/2], blob[size/2:])
		commit(t, db, Capture{ID: id, AgentID: "agent-1", Trigger: "manual", Status: StatusCommitted,
			CreatedNS: time.Unix(1_770_000_000, 0).Add(time.Duration(i) * time.Second).UnixNano(), Chunks: 2,
			Labels: map[string]string{"model": "qwen3"}})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// damaged writes a copy of the file at src changed by fn and returns its path.
func damaged(t *testing.T, src string, fn func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(dst, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestCheckFile is finding 6 of issue 13: a truncated database started
// serving and panicked on the first read ("assertion failed: Page expected
// to be: 1609" in List); a 0-byte file started as a new, empty store. Each
// damage is now named before anything is served.
func TestCheckFile(t *testing.T) {
	good := filledStore(t, 200, 64<<10)
	st, _ := os.Stat(good)
	tests := []struct {
		name string
		path string
		want error  // nil: the file is fine
		text string // in the error
	}{
		{"good", good, nil, ""},
		{"missing", filepath.Join(t.TempDir(), FileName), os.ErrNotExist, ""},
		{"0 bytes", damaged(t, good, func([]byte) []byte { return nil }), ErrEmptyFile, ""},
		{"truncated to 60%", damaged(t, good, func(b []byte) []byte { return b[:len(b)*6/10/4096*4096] }), ErrCorrupt, "truncated"},
		{"truncated, then grown with zeros", damaged(t, good, func(b []byte) []byte {
			cut := len(b) * 6 / 10 / 4096 * 4096
			return append(b[:cut], make([]byte, len(b)-cut)...)
		}), ErrCorrupt, ""},
		{"pages overwritten", damaged(t, good, func(b []byte) []byte {
			copy(b[2*4096:], bytes.Repeat([]byte{0xa5}, 40*4096))
			return b
		}), ErrCorrupt, ""},
		{"meta pages overwritten", damaged(t, good, func(b []byte) []byte {
			copy(b, bytes.Repeat([]byte{0x5a}, 2*4096))
			return b
		}), ErrCorrupt, ""},
		{"half a page", damaged(t, good, func(b []byte) []byte { return b[:1000] }), ErrCorrupt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := CheckFile(ctx, tt.path, Options{})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckFile(%s) = %v", tt.name, err)
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("CheckFile(%s) = %v, want %v with %q", tt.name, err, tt.want, tt.text)
			}
		})
	}
	t.Logf("checked a %d MiB store", st.Size()>>20)
}

func TestCheckFileLockedAndTimeout(t *testing.T) {
	path := filledStore(t, 50, 64<<10)
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(context.Background(), path, Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Errorf("CheckFile of a file in use = %v, want ErrLocked", err)
	}
	db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := CheckFile(ctx, path, Options{}); !errors.Is(err, ErrCheckTimeout) {
		t.Errorf("CheckFile with no time left = %v, want ErrCheckTimeout", err)
	}
	// The check finishes in the background and lets go of the file.
	deadline := time.Now().Add(10 * time.Second)
	for {
		db, err := Open(path, Options{Timeout: 100 * time.Millisecond})
		if err == nil {
			db.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file stays locked after a timed-out check: %v", err)
		}
	}
}

// stageTB and commitTB are stage and commit for benchmarks too.
func stageTB(t testing.TB, db *DB, id, agent string, chunks ...[]byte) {
	t.Helper()
	all := bytes.Join(chunks, nil)
	err := db.Update(context.Background(), func(w *Writer) error {
		if _, err := w.BeginUpload(&Upload{CaptureID: id, AgentID: agent, Chunks: int64(len(chunks)), Bytes: int64(len(all)), SHA256: make([]byte, 32)}); err != nil {
			return err
		}
		off := int64(0)
		for i, c := range chunks {
			if _, err := w.StageChunk(id, int64(i), off, c); err != nil {
				return err
			}
			off += int64(len(c))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCheckFile measures the start-up check on a store of 20,000
// captures of 32 KiB (BENCHMARKS.md): STORE_BENCH_CAPTURES changes the count.
func BenchmarkCheckFile(b *testing.B) {
	n := 20_000
	if v := os.Getenv("STORE_BENCH_CAPTURES"); v != "" {
		fmt.Sscan(v, &n)
	}
	path := filledStore(b, n, 32<<10)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	for b.Loop() {
		if err := CheckFile(context.Background(), path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
}
