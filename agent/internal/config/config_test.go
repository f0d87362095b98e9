package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/plugins/captureopt"
)

func TestGood(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Capture
	if f.Spool.MaxBytes != 10<<30 || c.Duration != 2*time.Second || c.Pad != 100*time.Microsecond ||
		c.DeviceTracerLevel != 1 || c.PythonTracerLevel != 1 || f.Labels["model"] != "qwen3" || c.WorkloadMethod != "POST" ||
		c.Requests != 2 || !c.KeepRaw || c.WorkloadBody != filepath.Join("testdata", "score_request.json") || c.Concurrency != 1 {
		t.Errorf("Load = %+v", f)
	}
	e, err := Load(filepath.Join("testdata", "empty.good.yaml"))
	if err != nil || e.Capture != captureopt.Defaults() {
		t.Errorf("Load(empty) = %+v, %v; want captureopt.Defaults()", e, err)
	}
}

func TestBad(t *testing.T) {
	tests := []struct {
		file    string
		want    string
		wantErr error
	}{
		{"backend", "capture.backend", captureopt.ErrBackend},
		{"duration", "capture.duration: \"soon\": not a duration", captureopt.ErrSyntax},
		{"level", "capture.device_tracer_level: 3", captureopt.ErrRange},
		{"steps", "capture.steps: -3", captureopt.ErrRange},
		{"size", "not a size", nil},
		{"unknown", "capture.durashun", captureopt.ErrUnknown},
		{"hyphen", "capture.host-tracer-level: write it host_tracer_level", captureopt.ErrUnknown},
		{"endpoint", "capture.workload_endpoint", captureopt.ErrEndpoint},
		{"label", "labels.bad key!", nil},
		{"workload", "workload_body (was body_file)", nil},
	}
	for _, tt := range tests {
		_, err := Load(filepath.Join("testdata", tt.file+".bad.yaml"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%s.bad.yaml) = %v, want ErrInvalid naming %q", tt.file, err, tt.want)
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("Load(%s.bad.yaml) = %v, want %v", tt.file, err, tt.wantErr)
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
