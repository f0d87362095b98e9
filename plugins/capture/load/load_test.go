package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestResolveRunFolders(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "plugins", "profile")
	write(t, filepath.Join(runs, "2026_02_05_20_15_30", "h1.trace.json.gz"), []byte("x"))
	write(t, filepath.Join(runs, "2026_02_05_20_15_30", "h1.xplane.pb"), []byte("x"))
	write(t, filepath.Join(runs, "2026_02_05_21_00_00", "h1.trace.json.gz"), []byte("x"))
	write(t, filepath.Join(runs, "2026_02_05_21_00_00", "h2.trace.json.gz"), []byte("x"))
	write(t, filepath.Join(root, "single", "only.trace.json"), []byte("x"))
	// jax with create_perfetto_trace=True, and TensorFlow's memory profile:
	// the host's files and the run's perfetto_trace are one host.
	jax := filepath.Join(root, "jax", "plugins", "profile", "2026_02_05_22_00_00")
	write(t, filepath.Join(jax, "t1v-w-0.xplane.pb"), []byte("x"))
	write(t, filepath.Join(jax, "t1v-w-0.trace.json.gz"), []byte("x"))
	write(t, filepath.Join(jax, "t1v-w-0.memory_profile.json.gz"), []byte("x"))
	write(t, filepath.Join(jax, "perfetto_trace.json.gz"), []byte("x"))
	write(t, filepath.Join(root, "perfetto", "perfetto_trace.json.gz"), []byte("x"))
	write(t, filepath.Join(root, "sideonly", "h.memory_profile.json"), []byte("x"))

	tests := []struct {
		name, path, run, host string
		want                  string
		err                   error
	}{
		{"file", filepath.Join(root, "single", "only.trace.json"), "", "", filepath.Join(root, "single", "only.trace.json"), nil},
		{"run folder, one host", filepath.Join(root, "single"), "", "", filepath.Join(root, "single", "only.trace.json"), nil},
		{"xplane preferred", filepath.Join(runs, "2026_02_05_20_15_30"), "", "", filepath.Join(runs, "2026_02_05_20_15_30", "h1.xplane.pb"), nil},
		{"root picks run", root, "2026_02_05_20_15_30", "", filepath.Join(runs, "2026_02_05_20_15_30", "h1.xplane.pb"), nil},
		{"newest run has two hosts", root, "", "", "", ErrManyHosts},
		{"newest run, host chosen", root, "", "h2", filepath.Join(runs, "2026_02_05_21_00_00", "h2.trace.json.gz"), nil},
		{"profile dir itself", runs, "", "h1", filepath.Join(runs, "2026_02_05_21_00_00", "h1.trace.json.gz"), nil},
		{"no such run", root, "2020_01_01_00_00_00", "", "", ErrNoRun},
		{"empty dir", t.TempDir(), "", "", "", ErrNoCapture},
		{"jax run with perfetto_trace", filepath.Join(root, "jax"), "", "", filepath.Join(jax, "t1v-w-0.xplane.pb"), nil},
		{"perfetto_trace alone", filepath.Join(root, "perfetto"), "", "", filepath.Join(root, "perfetto", "perfetto_trace.json.gz"), nil},
		{"memory profile alone", filepath.Join(root, "sideonly"), "", "", "", ErrNoCapture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.path, tt.run, tt.host)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Resolve = %q, %v; want error %v", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

const miniJSON = `{"displayTimeUnit":"ns","traceEvents":[
{"ph":"M","pid":1,"name":"process_name","args":{"name":"/device:TPU:0"}},
{"ph":"M","pid":1,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}},
{"ph":"M","pid":701,"name":"process_name","args":{"name":"/host:CPU"}},
{"ph":"X","pid":701,"tid":9,"ts":1000.000000,"dur":5000.000000,"name":"wait","args":{}},
{"ph":"X","pid":1,"tid":3,"ts":2000.500000,"dur":10.250000,"name":"fusion.1","args":{"tf_op":"jit(f)/add:add"}},
{}]}`

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := []byte(miniJSON)
	hostOnly := []byte(`{"traceEvents":[{"ph":"M","pid":701,"name":"process_name","args":{"name":"/host:CPU"}},{"ph":"X","pid":701,"tid":1,"ts":1,"dur":2,"name":"a"},{}]}`)
	tests := []struct {
		name string
		file string
		data []byte
		want error
	}{
		{"empty json", "a.trace.json", nil, ErrEmptyFile},
		{"empty xplane", "a.xplane.pb", nil, xplane.ErrEmpty},
		{"truncated gzip", "a.trace.json.gz", gz(good)[:40], ErrTruncatedGzip},
		{"corrupt gzip", "a.trace.json.gz", append(gz(good)[:len(gz(good))-8], 1, 2, 3, 4, 5, 6, 7, 8), ErrBadGzip},
		{"malformed json", "a.trace.json", []byte(`{"traceEvents":[{"ph":"X",`), tracejson.ErrMalformed},
		{"not a capture", "a.bin", []byte("\x00\x01hello"), ErrUnknownFormat},
		{"gzip of text", "a.gz", gz([]byte("hello world")), ErrUnknownFormat},
		{"no device plane", "a.trace.json", hostOnly, trim.ErrNoDevicePlane},
		{"xplane garbage", "a.xplane.pb", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, xplane.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, filepath.Join(dir, tt.name, tt.file), tt.data)
			_, err := File(context.Background(), p, Options{TempDir: t.TempDir()})
			if !errors.Is(err, tt.want) {
				t.Fatalf("File = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLoadArrayFormat reads the Trace Event Format's other form, a bare
// array of events (its closing bracket optional), plain and gzipped, and
// trace JSON behind a UTF-8 byte order mark.
func TestLoadArrayFormat(t *testing.T) {
	body := miniJSON[strings.Index(miniJSON, "[") : strings.LastIndex(miniJSON, "]")+1]
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		data []byte
		want Format
	}{
		{"array.trace.json", []byte(body), FormatTraceJSON},
		{"spaced.trace.json", []byte("\n  " + body), FormatTraceJSON},
		{"array.trace.json.gz", gz([]byte(body)), FormatGzipJSON},
		{"bom.trace.json", []byte("\ufeff" + miniJSON), FormatTraceJSON},
		{"bom.trace.json.gz", gz([]byte("\ufeff" + body)), FormatGzipJSON},
	} {
		p := write(t, filepath.Join(dir, tt.name), tt.data)
		res, err := FileResult(context.Background(), p, Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Format != tt.want || res.Capture.EventsTotal != 2 || res.Capture.Devices()[0].Busy != 10_250_000 {
			t.Errorf("%s: format %s, %d events, busy %d ps; want %s, 2, 10250000", tt.name, res.Format,
				res.Capture.EventsTotal, res.Capture.Devices()[0].Busy, tt.want)
		}
	}
}

func TestLoadDetectsByContent(t *testing.T) {
	dir := t.TempDir()
	// A gzip JSON with a misleading name is still read.
	p := write(t, filepath.Join(dir, "capture.bin"), gz([]byte(miniJSON)))
	tmp := t.TempDir()
	res, err := FileResult(context.Background(), p, Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != FormatGzipJSON {
		t.Errorf("format = %s, want %s", res.Format, FormatGzipJSON)
	}
	c := res.Capture
	if c.EventsTotal != 2 || c.EventsKept() != 2 {
		t.Errorf("events total %d kept %d, want 2 and 2", c.EventsTotal, c.EventsKept())
	}
	if got := c.Devices()[0].Busy; got != 10_250_000 {
		t.Errorf("busy = %d ps, want 10250000", got)
	}
	// Temporary files are cleaned up.
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 0 {
		t.Errorf("left files behind: %v", ents)
	}
}
