package gen

// Benchmarks of the gzip decoders fleetprof could read trace JSON with, on
// a generated capture, alone and arranged with the trace JSON walker the way
// the loader could use them. BENCHMARKS.md records the figures.
//
//	FLEETPROF_BENCH_GZ=bench-out/gen-4000000-seed1/capture.trace.json.gz \
//	  go test -run '^$' -bench . -benchtime 3x ./integration/internal/gen/
//
// Without FLEETPROF_BENCH_GZ they generate a 1M-event capture first.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/pgzip"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
)

// benchInput is the compressed capture the benchmarks read, in memory, and
// its uncompressed size; xplane is the same capture as an XSpace.
type benchInput struct {
	path   string
	xplane string
	gz     []byte
	raw    int64
}

var (
	benchOnce sync.Once
	benchIn   benchInput
	benchErr  error
)

func benchCapture(b *testing.B) benchInput {
	b.Helper()
	benchOnce.Do(func() {
		path := os.Getenv("FLEETPROF_BENCH_GZ")
		if path == "" {
			dir, err := os.MkdirTemp("", "fleetprof-bench-")
			if err != nil {
				benchErr = err
				return
			}
			path = filepath.Join(dir, "capture.trace.json.gz")
			c, err := New(Config{Events: 1_000_000})
			if err != nil {
				benchErr = err
				return
			}
			var xs bytes.Buffer
			if benchErr = c.WriteXSpace(&xs); benchErr != nil {
				return
			}
			if benchErr = os.WriteFile(filepath.Join(dir, "capture.xplane.pb"), xs.Bytes(), 0o644); benchErr != nil {
				return
			}
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			if err := c.WriteJSON(zw); err != nil {
				benchErr = err
				return
			}
			if err := zw.Close(); err != nil {
				benchErr = err
				return
			}
			if benchErr = os.WriteFile(path, buf.Bytes(), 0o644); benchErr != nil {
				return
			}
		}
		gz, err := os.ReadFile(path)
		if err != nil {
			benchErr = err
			return
		}
		zr, err := kgzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			benchErr = err
			return
		}
		n, err := io.Copy(io.Discard, zr)
		xplane := strings.TrimSuffix(path, ".trace.json.gz") + ".xplane.pb"
		benchIn, benchErr = benchInput{path: path, xplane: xplane, gz: gz, raw: n}, err
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchIn
}

// decoders open a gzip stream.
var decoders = []struct {
	name string
	open func(r io.Reader) (io.Reader, error)
}{
	{"stdlib", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
	{"pgzip-4x1MB", func(r io.Reader) (io.Reader, error) { return pgzip.NewReader(r) }},
	{"pgzip-8x1MB", func(r io.Reader) (io.Reader, error) { return pgzip.NewReaderN(r, 1<<20, 8) }},
}

// BenchmarkGunzip decodes the capture to io.Discard.
func BenchmarkGunzip(b *testing.B) {
	in := benchCapture(b)
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(in.raw)
			for b.Loop() {
				r, err := d.open(bytes.NewReader(in.gz))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countVisitor counts what a walk meets.
type countVisitor struct{ events int64 }

func (v *countVisitor) Base(int64)                     {}
func (v *countVisitor) Plane(capture.PlaneInfo) int    { return 0 }
func (v *countVisitor) Line(int, capture.LineInfo) int { return 0 }
func (v *countVisitor) Event(*capture.RawEvent) error  { v.events++; return nil }

// blockPipe decodes on its own goroutine into a few fixed blocks, the
// arrangement the loader uses (load/pipe.go), optionally copying each block
// to tee first.
type blockPipe struct {
	full chan []byte
	free chan []byte
	cur  []byte
	blk  []byte
	err  error
	done chan struct{}
}

func newBlockPipe(src io.Reader, tee io.Writer, blocks, size int) *blockPipe {
	p := &blockPipe{full: make(chan []byte, blocks), free: make(chan []byte, blocks), done: make(chan struct{})}
	for range blocks {
		p.free <- make([]byte, size)
	}
	go func() {
		defer close(p.done)
		defer close(p.full)
		for buf := range p.free {
			n, err := io.ReadFull(src, buf[:cap(buf)])
			if n > 0 {
				if tee != nil {
					if _, werr := tee.Write(buf[:n]); werr != nil {
						p.err = werr
						return
					}
				}
				p.full <- buf[:n]
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			if err != nil {
				p.err = err
				return
			}
		}
	}()
	return p
}

func (p *blockPipe) Read(b []byte) (int, error) {
	if len(p.cur) == 0 {
		if p.blk != nil {
			p.free <- p.blk
			p.blk = nil
		}
		blk, ok := <-p.full
		if !ok {
			<-p.done
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

// BenchmarkWalkJSON decodes and walks the capture with tracejson.Walk (a
// visitor that only counts), with the decoder in the walking goroutine, on
// its own goroutine behind a block pipe, or pgzip's own read-ahead; "tee"
// also writes the uncompressed stream to a temporary file, as the loader
// does to read the kept events back.
func BenchmarkWalkJSON(b *testing.B) {
	in := benchCapture(b)
	walk := func(b *testing.B, r io.Reader) {
		var v countVisitor
		if _, err := tracejson.Walk(context.Background(), r, &v, tracejson.WalkOptions{}); err != nil {
			b.Fatal(err)
		}
		if v.events == 0 {
			b.Fatal("no events")
		}
	}
	b.Run("uncompressed-in-memory", func(b *testing.B) {
		zr, err := kgzip.NewReader(bytes.NewReader(in.gz))
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(in.raw)
		for b.Loop() {
			walk(b, bytes.NewReader(raw))
		}
	})
	type arrangement struct {
		name string
		open func(b *testing.B, gz io.Reader, tee io.Writer) io.Reader
	}
	inline := func(dec int) func(b *testing.B, gz io.Reader, tee io.Writer) io.Reader {
		return func(b *testing.B, gz io.Reader, tee io.Writer) io.Reader {
			r, err := decoders[dec].open(gz)
			if err != nil {
				b.Fatal(err)
			}
			if tee != nil {
				return io.TeeReader(r, tee)
			}
			return r
		}
	}
	piped := func(dec, blocks, size int) func(b *testing.B, gz io.Reader, tee io.Writer) io.Reader {
		return func(b *testing.B, gz io.Reader, tee io.Writer) io.Reader {
			r, err := decoders[dec].open(gz)
			if err != nil {
				b.Fatal(err)
			}
			return newBlockPipe(r, tee, blocks, size)
		}
	}
	arrangements := []arrangement{
		{"stdlib-inline", inline(0)},
		{"klauspost-inline", inline(1)},
		{"stdlib-pipe-4x1MB", piped(0, 4, 1<<20)},
		{"klauspost-pipe-4x1MB", piped(1, 4, 1<<20)},
		{"klauspost-pipe-16x1MB", piped(1, 16, 1<<20)},
		{"pgzip-4x1MB", inline(2)},
		{"pgzip-8x1MB", inline(3)},
	}
	// With the tee: the loader's arrangement, and the best without it.
	withTee := map[string]bool{"klauspost-pipe-4x1MB": true, "pgzip-8x1MB": true}
	for _, tee := range []bool{false, true} {
		for _, a := range arrangements {
			name := a.name
			if tee {
				if !withTee[name] {
					continue
				}
				name += "+tee"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(in.raw)
				dir := b.TempDir()
				for b.Loop() {
					var f *os.File
					var w io.Writer
					if tee {
						var err error
						if f, err = os.CreateTemp(dir, "tee-*.json"); err != nil {
							b.Fatal(err)
						}
						w = f
					}
					walk(b, a.open(b, bytes.NewReader(in.gz), w))
					if f != nil {
						f.Close()
						os.Remove(f.Name())
					}
				}
			})
		}
	}
}

// BenchmarkLoad is the real thing: load.File on the capture (decode, walk,
// index, trim), as `fleetprof trim` runs it before writing, for the gzipped
// JSON (MB/s of uncompressed JSON) and for the XSpace beside it (MB/s of
// XSpace; events/s is reported too).
func BenchmarkLoad(b *testing.B) {
	in := benchCapture(b)
	for _, f := range []struct{ name, path string }{{"json.gz", in.path}, {"xplane", in.xplane}} {
		b.Run(f.name, func(b *testing.B) {
			st, err := os.Stat(f.path)
			if err != nil {
				b.Skip(err)
			}
			b.SetBytes(st.Size())
			if f.name == "json.gz" {
				b.SetBytes(in.raw)
			}
			dir := b.TempDir()
			var events int64
			for b.Loop() {
				c, err := load.File(context.Background(), f.path, load.Options{TempDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				events = c.EventsTotal
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
		})
	}
}

// BenchmarkKeptCopy measures the ways of keeping a gzip stream's bytes for
// loading kept events afterwards without decoding it again: the decoded
// stream, 1 MiB at a time, compressed (S2 at its default and "better"
// levels, Snappy) or not (a plain tee) into a temporary file — what the
// copying goroutine of the loader does besides decoding. "decode-again" is
// what it replaces: decoding the file a second time. MB/s are of
// uncompressed JSON; ratio is its size over the copy's.
func BenchmarkKeptCopy(b *testing.B) {
	in := benchCapture(b)
	zr, err := kgzip.NewReader(bytes.NewReader(in.gz))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	const block = 1 << 20
	copies := []struct {
		name string
		enc  func(dst, src []byte) []byte
	}{
		{"s2", s2.Encode},
		{"s2-better", s2.EncodeBetter},
		{"snappy", snappy.Encode},
		{"tee", nil},
	}
	for _, c := range copies {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			dir := b.TempDir()
			dst := make([]byte, s2.MaxEncodedLen(block))
			var written int64
			for b.Loop() {
				f, err := os.CreateTemp(dir, "copy-*")
				if err != nil {
					b.Fatal(err)
				}
				written = 0
				for i := 0; i < len(raw); i += block {
					p := raw[i:min(i+block, len(raw))]
					if c.enc != nil {
						p = c.enc(dst, p)
					}
					n, err := f.Write(p)
					if err != nil {
						b.Fatal(err)
					}
					written += int64(n)
				}
				f.Close()
				os.Remove(f.Name())
			}
			b.ReportMetric(float64(len(raw))/float64(written), "ratio")
		})
	}
	b.Run("decode-again", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			zr, err := kgzip.NewReader(bytes.NewReader(in.gz))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
