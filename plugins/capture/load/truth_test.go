package load

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// fixture is a folder of ../shared/testdata with a truth.json and the
// capture files it describes.
type fixture struct {
	dir   string
	files []string
}

// truthFixtures lists every folder that holds a truth.json, and the capture
// files in it (every format present). Folders are found, not listed: new
// real captures join the tests by being added.
func truthFixtures(t testing.TB) []fixture {
	t.Helper()
	td := fixtures.Dir(t)
	var out []fixture
	for _, dir := range fixtures.Folders(t) {
		ents, err := os.ReadDir(filepath.Join(td, dir))
		if err != nil {
			t.Fatal(err)
		}
		fx := fixture{dir: dir}
		for _, e := range ents {
			n := e.Name()
			if _, ok := isCaptureName(n); ok && e.Type().IsRegular() && n != fixtures.TruthFile {
				fx.files = append(fx.files, n)
			}
		}
		if len(fx.files) == 0 {
			t.Errorf("%s has a truth.json but no capture file", dir)
		}
		out = append(out, fx)
	}
	return out
}

func TestFixturesMatchTruth(t *testing.T) {
	td := fixtures.Dir(t)
	for _, fx := range truthFixtures(t) {
		tr := fixtures.ReadTruth[fixtures.Truth](t, fx.dir)
		for _, f := range fx.files {
			t.Run(fx.dir+"/"+f, func(t *testing.T) {
				tmp := t.TempDir()
				c, err := File(context.Background(), filepath.Join(td, fx.dir, f), Options{TempDir: tmp})
				if err != nil {
					t.Fatal(err)
				}
				checkTruth(t, c, tr)
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("temporary files left behind: %v", left)
				}
			})
		}
	}
}

func checkTruth(t *testing.T, c *capture.Capture, tr fixtures.Truth) {
	t.Helper()
	s := capture.Summarize(c)
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
		}
	}
	near("span_us", s.SpanUS.Float(), tr.SpanUS, 1)
	if tr.SpanFrom != "" && c.SpanFrom != tr.SpanFrom {
		t.Errorf("span_from = %q, want %q", c.SpanFrom, tr.SpanFrom)
	}
	if s.EventsTotal != tr.EventsTotal {
		t.Errorf("events_total = %d, want %d", s.EventsTotal, tr.EventsTotal)
	}
	if s.EventsKept != tr.EventsKept {
		t.Errorf("events_kept = %d, want %d", s.EventsKept, tr.EventsKept)
	}
	if s.DeviceOpEvents != tr.DeviceOpEvents {
		t.Errorf("device_op_events = %d, want %d", s.DeviceOpEvents, tr.DeviceOpEvents)
	}
	near("non_idle_op_us", s.NonIdleOpUS.Float(), tr.NonIdleOpUS, 0.01)
	if len(s.Devices) != len(tr.Devices) {
		t.Errorf("devices = %v, want %d devices", s.DeviceOrder, len(tr.Devices))
	}
	for name, want := range tr.Devices {
		got, ok := s.Devices[name]
		if !ok {
			t.Errorf("device %s missing", name)
			continue
		}
		near(name+" busy_us", got.BusyUS.Float(), want.BusyUS, 0.01)
		near(name+" idle_us", got.IdleUS.Float(), want.IdleUS, 1)
		near(name+" idle_pct", got.IdlePct, want.IdlePct, 1e-6)
		if got.OpEvents != want.OpEvents {
			t.Errorf("%s op_events = %d, want %d", name, got.OpEvents, want.OpEvents)
		}
	}
	if len(s.Windows) != len(tr.Windows) {
		t.Fatalf("windows = %d, want %d", len(s.Windows), len(tr.Windows))
	}
	for i, w := range tr.Windows {
		near("window start", s.Windows[i][0].Float(), w[0], 1)
		near("window end", s.Windows[i][1].Float(), w[1], 1)
	}
}
