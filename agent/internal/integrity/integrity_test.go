package integrity

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fleetprof/fleetprof/agent/internal/sglang/sglangtest"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestLoad(t *testing.T) {
	td := fixtures.Dir(t)
	tiny, _ := os.ReadFile(filepath.Join(td, "tiny", "tiny-host.xplane.pb"))
	tinyGz, _ := os.ReadFile(filepath.Join(td, "tiny", "tiny-host.trace.json.gz"))
	cpu := sglangtest.CPUOnlyXPlane(t, 10)
	tests := []struct {
		name       string
		files      map[string][]byte
		opts       Options
		wantChecks []string
		wantErr    error
		wantEvents int64
	}{
		{"tiny", map[string][]byte{"h.xplane.pb": tiny}, Options{DeviceRequested: true}, []string{}, nil, 1472},
		{"cpu only", map[string][]byte{"h.xplane.pb": cpu}, Options{}, []string{NoDevicePlane}, nil, 10},
		{"cpu only, device asked", map[string][]byte{"h.xplane.pb": cpu}, Options{DeviceRequested: true},
			[]string{DeviceTracerIgnored, NoDevicePlane}, nil, 10},
		{"zero xspace, json beside", map[string][]byte{"h.xplane.pb": {}, "h.trace.json.gz": tinyGz}, Options{},
			[]string{ZeroByteXSpace}, nil, 1472},
		{"zero xspace alone", map[string][]byte{"h.xplane.pb": {}}, Options{}, []string{ZeroByteXSpace}, ErrNothingLeft, 0},
		{"empty folder, empty flag", map[string][]byte{}, Options{EmptyTrace: true}, []string{EmptyTrace}, ErrNothingLeft, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, checks, err := Load(t.Context(), dir, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load = %v, want %v", err, tt.wantErr)
			}
			if got := checks.Names(); !slices.Equal(got, tt.wantChecks) {
				t.Errorf("checks = %q, want %q", got, tt.wantChecks)
			}
			if err != nil {
				return
			}
			if got := res.Capture.EventsTotal; got != tt.wantEvents {
				t.Errorf("EventsTotal = %d, want %d", got, tt.wantEvents)
			}
		})
	}
}

func TestCapture(t *testing.T) {
	tests := []struct {
		name string
		c    *capture.Capture
		dev  bool
		want []string
	}{
		{"empty", &capture.Capture{}, true, []string{EmptyTrace}},
		{"cap", &capture.Capture{EventsTotal: 1_000_000, Planes: []*capture.Plane{{Name: "/device:TPU:0", OpEvents: 5}},
			Warnings: []string{"the trace holds exactly 1000000 events: the profiler's event cap probably cut it short"}},
			true, []string{EventCapReached}},
		{"host only", &capture.Capture{EventsTotal: 3, Planes: []*capture.Plane{{Name: "/host:CPU"}}}, false, []string{NoDevicePlane}},
	}
	for _, tt := range tests {
		if got := Capture(tt.c, tt.dev).Names(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Capture() = %q, want %q", tt.name, got, tt.want)
		}
	}
	ctx := Checks{NoDevicePlane: "x"}.Context()
	if ctx["check.no_device_plane"] != "x" {
		t.Errorf("Context() = %v", ctx)
	}
}
