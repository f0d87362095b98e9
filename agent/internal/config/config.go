// Package config loads the agent's policy file (YAML): labels, spool
// limits and default capture options. Loading sets defaults, then
// validates, and fails with the field's name.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fleetprof/fleetprof/plugins/size"
)

// Errors.
var (
	// ErrInvalid means a field holds a bad value; the message names it.
	ErrInvalid = errors.New("config: invalid")
)

// File is the policy file.
type File struct {
	// Labels are added to the agent's labels (flags win).
	Labels map[string]string `yaml:"labels"`
	// Spool bounds the spool.
	Spool Spool `yaml:"spool"`
	// Capture holds default capture options.
	Capture Capture `yaml:"capture"`
	// Workload is the default workload, if any.
	Workload *Workload `yaml:"workload"`
}

// Spool configures the spool.
type Spool struct {
	// Dir is the spool folder (the --spool flag wins).
	Dir string `yaml:"dir"`
	// MaxBytes bounds it: a number of bytes or "10GiB", "500MB".
	MaxBytes Size `yaml:"max_bytes"`
}

// Capture holds default capture options.
type Capture struct {
	// Backend is "http" or "grpc". Default "http".
	Backend string `yaml:"backend"`
	// Duration is how long to profile, e.g. "2s". Default 2s.
	Duration Duration `yaml:"duration"`
	// NumSteps stops after N forward steps (http backend).
	NumSteps int64 `yaml:"num_steps"`
	// HostTracerLevel is 0-3. Default 2.
	HostTracerLevel *int32 `yaml:"host_tracer_level"`
	// PythonTracerLevel is 0-1. Default 0.
	PythonTracerLevel *int32 `yaml:"python_tracer_level"`
	// DeviceTracerLevel is 0-2. Default 1.
	DeviceTracerLevel *int32 `yaml:"device_tracer_level"`
	// Gap is the window gap threshold, e.g. "1ms". Default 1ms.
	Gap Duration `yaml:"gap"`
	// Pad is the window pad, e.g. "100us". Default 100µs.
	Pad Duration `yaml:"pad"`
	// KeepRaw keeps raw profiler output after ingest.
	KeepRaw bool `yaml:"keep_raw"`
}

// Workload is a default workload.
type Workload struct {
	// Endpoint is the path, e.g. /v1/score. Required.
	Endpoint string `yaml:"endpoint"`
	// Method defaults to POST.
	Method string `yaml:"method"`
	// BodyFile is read as the request body (relative to the config file).
	BodyFile string `yaml:"body_file"`
	// Warmups, Requests, Concurrency and Rate as for the flags.
	Warmups     int     `yaml:"warmups"`
	Requests    int     `yaml:"requests"`
	Concurrency int     `yaml:"concurrency"`
	Rate        float64 `yaml:"rate"`
}

// Duration is a time.Duration written as "2s".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.ReplaceAll(n.Value, "µ", "u"))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 2s or 100us", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Size is a byte count written as a number or "10GiB", "500MB".
type Size int64

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := size.Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = Size(v)
	return nil
}

// Load reads and validates a policy file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates a policy. Unknown fields are errors.
func Parse(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	f.setDefaults()
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) setDefaults() {
	if f.Capture.Backend == "" {
		f.Capture.Backend = "http"
	}
	if f.Workload != nil && f.Workload.Method == "" {
		f.Workload.Method = "POST"
	}
}

// Validate checks every field, naming the first bad one.
func (f *File) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	for k := range f.Labels {
		if !labelKey.MatchString(k) {
			return bad("labels."+k, "label keys are letters, digits, '_', '-', '.' and '/' (at most 63)")
		}
	}
	if f.Spool.MaxBytes < 0 {
		return bad("spool.max_bytes", "must not be negative")
	}
	c := f.Capture
	switch {
	case c.Backend != "http" && c.Backend != "grpc":
		return bad("capture.backend", "%q: want http or grpc", c.Backend)
	case c.Duration < 0 || time.Duration(c.Duration) > time.Hour:
		return bad("capture.duration", "%v not in 0..1h", time.Duration(c.Duration))
	case c.NumSteps < 0:
		return bad("capture.num_steps", "must not be negative")
	case !inRange(c.HostTracerLevel, 3):
		return bad("capture.host_tracer_level", "want 0..3")
	case !inRange(c.PythonTracerLevel, 1):
		return bad("capture.python_tracer_level", "want 0..1")
	case !inRange(c.DeviceTracerLevel, 2):
		return bad("capture.device_tracer_level", "want 0..2")
	case c.Gap < 0:
		return bad("capture.gap", "must not be negative")
	case c.Pad < 0:
		return bad("capture.pad", "must not be negative")
	}
	if w := f.Workload; w != nil {
		switch {
		case !strings.HasPrefix(w.Endpoint, "/"):
			return bad("workload.endpoint", "%q: want a path like /v1/score", w.Endpoint)
		case w.Warmups < 0:
			return bad("workload.warmups", "must not be negative")
		case w.Requests < 0:
			return bad("workload.requests", "must not be negative")
		case w.Concurrency < 0 || w.Concurrency > 256:
			return bad("workload.concurrency", "want 0..256")
		case w.Rate < 0:
			return bad("workload.rate", "must not be negative")
		}
	}
	return nil
}

var labelKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$`)

func inRange(p *int32, hi int32) bool { return p == nil || (*p >= 0 && *p <= hi) }
