package xplanew

import (
	"bytes"
	"flag"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

var update = flag.Bool("update", false, "rewrite the FuzzRead seed that the SDK's xplane reader takes from Write")

// fixture is one shared capture.
type fixture struct {
	name, dir, file string
}

// captures are the shared captures the writer reads, writes and reads back.
var captures = []fixture{
	{"tiny", "tiny", "tiny-host.xplane.pb"},
	{"gpu", "real/xprof-gpu-multi-worker", "34.83.195.179_6003.xplane.pb"},
}

func (fx fixture) path(t testing.TB) string {
	return filepath.Join(fixtures.Dir(t), fx.dir, fx.file)
}

// openFile opens a file on disk with the SDK's reader.
func openFile(t testing.TB, path string) *xplane.File {
	t.Helper()
	f, err := xplane.Open(capturetest.OpenFile(t, path))
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return f
}

// walkLoadBytes opens b and walks and loads every event.
func walkLoadBytes(t *testing.T, b []byte) (*capturetest.Recorder, []capturetest.Loaded) {
	t.Helper()
	f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return capturetest.WalkLoad(t, f)
}
