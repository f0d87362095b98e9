package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGood(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Spool.MaxBytes != 10<<30 || time.Duration(f.Capture.Duration) != 2*time.Second ||
		time.Duration(f.Capture.Pad) != 100*time.Microsecond || *f.Capture.DeviceTracerLevel != 1 ||
		f.Labels["model"] != "qwen3" || f.Workload.Method != "POST" || f.Workload.Requests != 2 || !f.Capture.KeepRaw {
		t.Errorf("Load = %+v", f)
	}
	e, err := Load(filepath.Join("testdata", "empty.good.yaml"))
	if err != nil || e.Capture.Backend != "http" || e.Workload != nil {
		t.Errorf("Load(empty) = %+v, %v; want defaults", e, err)
	}
}

func TestBad(t *testing.T) {
	tests := map[string]string{
		"backend":  "capture.backend",
		"duration": "not a duration",
		"level":    "capture.device_tracer_level",
		"size":     "not a size",
		"unknown":  "durashun",
		"endpoint": "workload.endpoint",
		"label":    "labels.bad key!",
	}
	for name, want := range tests {
		_, err := Load(filepath.Join("testdata", name+".bad.yaml"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s.bad.yaml) = %v, want ErrInvalid naming %q", name, err, want)
		}
	}
	if _, err := Load("testdata/missing.yaml"); err == nil {
		t.Error("Load(missing) = nil error")
	}
}

// FuzzParse checks that no input makes Parse panic or accept an invalid policy.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy that Validate rejects: %v", err)
		}
	})
}
