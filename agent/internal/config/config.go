// Package config loads the agent's policy file (YAML): labels, spool
// limits and default capture options (package captureopt's, keyed by their
// flag names). Loading sets defaults, then validates, and fails with the
// field's name.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/fleetprof/fleetprof/plugins/captureopt"
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
	// Capture holds the default capture options, keyed as the flags are
	// named with '_' for '-' (captureopt.Key): steps, host_tracer_level,
	// workload_body, .... A relative workload_body is relative to the file.
	Capture captureopt.Options `yaml:"capture"`
	// Workload is the old workload section, now part of Capture; Validate
	// refuses it, naming the new keys.
	Workload yaml.Node `yaml:"workload"`
}

// Spool configures the spool.
type Spool struct {
	// Dir is the spool folder (the --spool flag wins).
	Dir string `yaml:"dir"`
	// MaxBytes bounds it: a number of bytes or "10GiB", "500MB".
	MaxBytes size.Bytes `yaml:"max_bytes"`
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
	if body := f.Capture.WorkloadBody; body != "" && !filepath.IsAbs(body) {
		f.Capture.WorkloadBody = filepath.Join(filepath.Dir(path), body)
	}
	return f, nil
}

// Parse decodes and validates a policy. Unknown fields are errors. Options
// the file leaves out are captureopt.Defaults().
func Parse(b []byte) (*File, error) {
	f := File{Capture: captureopt.Defaults()}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, invalid(err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// fieldError is a bad capture option, named by its key in the file.
type fieldError struct{ oe *captureopt.OptionError }

func (e fieldError) Error() string {
	var line string
	if e.oe.Line > 0 {
		line = fmt.Sprintf("line %d: ", e.oe.Line)
	}
	key := captureopt.Key(e.oe.Name)
	if errors.Is(e.oe, captureopt.ErrUnknown) {
		key = e.oe.Name // as the file spells it
	}
	if e.oe.Value != "" {
		key += ": " + e.oe.Value
	}
	return fmt.Sprintf("%v: %scapture.%s: %s", ErrInvalid, line, key, e.oe.Want)
}

func (e fieldError) Unwrap() []error { return []error{ErrInvalid, e.oe} }

// invalid wraps err in ErrInvalid, naming a capture option by its key.
func invalid(err error) error {
	var oe *captureopt.OptionError
	if errors.As(err, &oe) {
		return fieldError{oe}
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
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
	if f.Workload.Kind != 0 {
		return bad("workload", "line %d: the workload is part of capture now: workload_body (was body_file), workload_endpoint, workload_method, warmups, requests, concurrency, rate", f.Workload.Line)
	}
	if err := f.Capture.Validate(); err != nil {
		return invalid(err)
	}
	return nil
}

var labelKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$`)
