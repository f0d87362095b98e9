package load

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// truth is the part of a fixture's truth.json that loading and trimming decide.
type truth struct {
	SpanUS  float64 `json:"span_us"`
	Devices map[string]struct {
		SpanUS   float64 `json:"span_us"`
		BusyUS   float64 `json:"busy_us"`
		IdleUS   float64 `json:"idle_us"`
		IdlePct  float64 `json:"idle_pct"`
		OpEvents int64   `json:"op_events"`
	} `json:"devices"`
	Windows        [][2]float64 `json:"windows"`
	EventsTotal    int64        `json:"events_total"`
	EventsKept     int64        `json:"events_kept"`
	DeviceOpEvents int64        `json:"device_op_events"`
	NonIdleOpUS    float64      `json:"non_idle_op_us"`
}

// testdata returns ../shared/testdata beside the checkout, or skips.
func testdata(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(td); err != nil {
		t.Skipf("shared test data not found at %s", td)
	}
	return td
}

func readTruth(t *testing.T, path string) truth {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

var fixtures = []struct {
	dir   string
	files []string
}{
	{"tiny", []string{"tiny-host.xplane.pb", "tiny-host.trace.json.gz", "tiny-host.trace.json"}},
	{"seed-replica", []string{"t1v-n-3d21a6bb-w-0.xplane.pb", "t1v-n-3d21a6bb-w-0.trace.json.gz"}},
	{"real/xprof-gpu-multi-worker", []string{"34.83.195.179_6003.xplane.pb"}},
}

func TestFixturesMatchTruth(t *testing.T) {
	td := testdata(t)
	for _, fx := range fixtures {
		tr := readTruth(t, filepath.Join(td, fx.dir, "truth.json"))
		for _, f := range fx.files {
			t.Run(fx.dir+"/"+f, func(t *testing.T) {
				c, err := File(context.Background(), filepath.Join(td, fx.dir, f), Options{TempDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				checkTruth(t, c, tr)
			})
		}
	}
}

func checkTruth(t *testing.T, c *capture.Capture, tr truth) {
	t.Helper()
	s := capture.Summarize(c)
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
		}
	}
	near("span_us", s.SpanUS.Float(), tr.SpanUS, 1)
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
