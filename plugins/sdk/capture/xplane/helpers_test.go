package xplane

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// fixture is one shared capture and its truth.
type fixture struct {
	name, dir, file string
}

var captures = []fixture{
	{"tiny", "tiny", "tiny-host.xplane.pb"},
	{"seed-replica", "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb"},
	{"gpu", "real/xprof-gpu-multi-worker", "34.83.195.179_6003.xplane.pb"},
}

func (fx fixture) path(t testing.TB) string {
	return filepath.Join(fixtures.Dir(t), fx.dir, fx.file)
}

// truth is the part of truth.json these tests check.
type truth struct {
	SpanUS      json.Number `json:"span_us"`
	EventsTotal int64       `json:"events_total"`
	Devices     map[string]struct {
		OpEvents int64 `json:"op_events"`
	} `json:"devices"`
}

func (fx fixture) truth(t testing.TB) truth {
	t.Helper()
	return fixtures.ReadTruth[truth](t, fx.dir)
}

// microsToPS parses a decimal number of microseconds exactly into
// picoseconds.
func microsToPS(t testing.TB, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 {
		t.Fatalf("%s: more than 6 decimals", s)
	}
	frac += strings.Repeat("0", 6-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return w*capture.Microsecond + f
}

// openFile opens a file on disk.
func openFile(t testing.TB, path string) *File {
	t.Helper()
	f, err := Open(capturetest.OpenFile(t, path))
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return f
}

func gzipWriter(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }
