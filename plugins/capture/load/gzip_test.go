package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// wholeFileTrace is a trace JSON of n host events (nested, with args of
// every kind, some of them larger than the room the block pipe keeps before
// a block) and device ops back to back over the whole span after them:
// every event is kept, from the first byte of the stream to the last.
func wholeFileTrace(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[`)
	b.WriteString(`{"ph":"M","pid":1,"name":"process_name","args":{"name":"/device:TPU:0"}},`)
	b.WriteString(`{"ph":"M","pid":1,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}},`)
	b.WriteString(`{"ph":"M","pid":701,"name":"process_name","args":{"name":"/host:CPU"}},`)
	b.WriteString(`{"ph":"M","pid":701,"tid":9,"name":"thread_name","args":{"name":"python3"}},`)
	const base = 1770322541133790
	for i := range n {
		ts := fmt.Sprintf("%d.%06d", base+int64(i)*10, i%1000000)
		args := fmt.Sprintf(`{"i":"%d","s":"caf\u00e9 \"%d\"","n":%d,"o":{"a":[1,2]}}`, i, i, i)
		if i%5000 == 17 {
			args = `{"big":"` + strings.Repeat("z", 100_000+i) + `"}`
		}
		fmt.Fprintf(&b, `{"ph":"X","pid":701,"tid":9,"ts":%s,"dur":9.5,"name":"$loop.py:%d step","args":%s},`, ts, i%7, args)
		if i%3 == 0 {
			fmt.Fprintf(&b, `{"ph":"X","pid":701,"tid":9,"ts":%s,"dur":1.25,"name":"child","args":{}},`, ts)
		}
	}
	for i := range n {
		fmt.Fprintf(&b, `{"ph":"X","pid":1,"tid":3,"ts":%d.000000,"dur":10,"name":"fusion.%d","args":{"long_name":"%%fusion.%d = f32[8] fusion(...)","tf_op":"jit(f)/add:"}},`, base+int64(i)*10, i%11, i%11)
	}
	b.WriteString(`{}]}`)
	return b.Bytes()
}

// TestGzipKeptEventsSpanWholeFile loads the same trace plain (kept events
// read back from the file) and gzipped (decoded once, kept events read back
// from the temporary S2 copy): the captures must be the same, with every
// event kept, and nothing may be left in the temporary folder.
func TestGzipKeptEventsSpanWholeFile(t *testing.T) {
	raw := wholeFileTrace(60_000)
	dir := t.TempDir()
	plain := write(t, filepath.Join(dir, "c.trace.json"), raw)
	zipped := write(t, filepath.Join(dir, "c.trace.json.gz"), gz(raw))
	if len(raw) < 4*blockSize {
		t.Fatalf("the trace is %d bytes: too small to span several blocks", len(raw))
	}
	load := func(p string) *Result {
		tmp := t.TempDir()
		res, err := FileResult(context.Background(), p, Options{TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("%s: left files behind: %v", p, ents)
		}
		return res
	}
	a, b := load(plain), load(zipped)
	if b.Format != FormatGzipJSON || b.Uncompressed != int64(len(raw)) {
		t.Errorf("gzip: format %s, %d bytes uncompressed; want %s, %d", b.Format, b.Uncompressed, FormatGzipJSON, len(raw))
	}
	ca, cb := a.Capture, b.Capture
	if ca.EventsKept() != ca.EventsTotal || ca.EventsTotal != 60_000+20_000+60_000 {
		t.Errorf("kept %d of %d events, want all of 140000", ca.EventsKept(), ca.EventsTotal)
	}
	ca.Source.Name, cb.Source.Name = "", ""
	// reflect.DeepEqual first: cmp takes seconds on 140,000 events.
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("plain and gzipped loads differ (-plain +gzip):\n%.3000s", cmp.Diff(ca, cb))
	}
	// A stat with escapes came through the copy unchanged.
	ev := cb.Planes[1].Lines[0].Events[0]
	if st, ok := ev.Stat("s"); !ok || st.Str != `café "0"` {
		t.Errorf("first host event's stat s = %+v, want café \"0\"", ev.Stats)
	}
}

// TestGzipDamaged cuts and corrupts a gzipped trace at many places: each
// load fails with an error (never a panic, never a capture), and leaves
// nothing in the temporary folder.
func TestGzipDamaged(t *testing.T) {
	z := gz(wholeFileTrace(20_000))
	dir := t.TempDir()
	for i := 1; i <= 12; i++ {
		cut := len(z) * i / 13
		for _, damaged := range []struct {
			name string
			data []byte
			want []error
		}{
			{"cut", z[:cut], []error{ErrTruncatedGzip, ErrBadGzip}},
			{"flipped", flip(z, cut), nil},
		} {
			p := write(t, filepath.Join(dir, fmt.Sprintf("%s-%d.trace.json.gz", damaged.name, i)), damaged.data)
			tmp := t.TempDir()
			c, err := File(context.Background(), p, Options{TempDir: tmp})
			if err == nil {
				t.Errorf("%s at %d of %d bytes: loaded %d events, want an error", damaged.name, cut, len(z), c.EventsTotal)
			}
			if damaged.want != nil && !errors.Is(err, damaged.want[0]) && !errors.Is(err, damaged.want[1]) {
				t.Errorf("%s at %d of %d bytes: %v, want %v", damaged.name, cut, len(z), err, damaged.want)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("%s at %d: left files behind: %v", damaged.name, cut, ents)
			}
		}
	}
}

// flip returns a copy of b with the byte at i changed.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x5a
	return b
}

// TestLoadCancelled cancels loads of every kind part way: each stops with
// the context's error, leaves no temporary file and no goroutine behind.
func TestLoadCancelled(t *testing.T) {
	raw := wholeFileTrace(60_000)
	dir := t.TempDir()
	files := []string{
		write(t, filepath.Join(dir, "c.trace.json"), raw),
		write(t, filepath.Join(dir, "c.trace.json.gz"), gz(raw)),
	}
	if td, err := fixtures.Find("."); err == nil {
		if m, _ := filepath.Glob(filepath.Join(td, "seed-replica", "*.xplane.pb")); len(m) > 0 {
			files = append(files, m[0])
		}
	}
	before := runtime.NumGoroutine()
	for _, f := range files {
		for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
			ctx, cancel := context.WithCancel(context.Background())
			tmp := t.TempDir()
			timer := time.AfterFunc(after, cancel)
			_, err := File(ctx, f, Options{TempDir: tmp})
			timer.Stop()
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s cancelled after %v: %v, want context.Canceled", filepath.Base(f), after, err)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("%s cancelled after %v: left files behind: %v", filepath.Base(f), after, ents)
			}
		}
		// Cancelled before it starts.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := File(ctx, f, Options{TempDir: t.TempDir()}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s cancelled before: %v, want context.Canceled", filepath.Base(f), err)
		}
	}
	checkGoroutines(t, before)
}

// checkGoroutines fails the test if, within 5 s, more goroutines run than
// before, listing them.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
	}
}
