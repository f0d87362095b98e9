package retention

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fleetprof/fleetprof/collector/internal/selector"

	"github.com/fleetprof/fleetprof/plugins/size"
)

// File is the collector's policy file (--config). Only its retention
// section exists so far:
//
//	retention:
//	  interval: 10m                 # how often rules are applied (default 10m)
//	  batch_size: 100               # captures deleted per transaction (default 100)
//	  delete_pending_backups: false # also delete captures not yet in GCS (default false)
//	  rules:                        # applied in order; a capture any rule selects is deleted
//	    - name: qwen3               # for logs and metrics (default rule-<n>)
//	      selector: model=qwen3     # label selector; empty selects every capture
//	      max_age: 720h             # older captures are deleted
//	      max_bytes: 50GiB          # beyond this, the oldest are deleted
type File struct {
	// Retention is the retention policy.
	Retention Policy `yaml:"retention"`
}

// Policy is the retention section of the policy file.
type Policy struct {
	// Interval is how often the rules are applied. Default 10m.
	Interval Duration `yaml:"interval"`
	// BatchSize is how many captures are deleted per transaction. Default 100.
	BatchSize int `yaml:"batch_size"`
	// DeletePendingBackups lets rules delete captures whose backup is pending
	// or failed. Default false: they are kept until backed up.
	DeletePendingBackups bool `yaml:"delete_pending_backups"`
	// Rules are the rules, applied in order.
	Rules []Rule `yaml:"rules"`
}

// Rule bounds the captures its selector matches: by age and by their total
// size. A zero bound is no bound.
type Rule struct {
	// Name names the rule in logs and metrics. Default rule-<n> (from 1).
	Name string `yaml:"name"`
	// Selector is a label selector (model=qwen3,zone=us-east5-b); empty
	// selects every capture.
	Selector string `yaml:"selector"`
	// MaxAge deletes captures committed longer ago, e.g. 720h.
	MaxAge Duration `yaml:"max_age"`
	// MaxBytes deletes the oldest captures while the selected ones' .fpcap
	// bytes add up to more, e.g. 50GiB.
	MaxBytes size.Bytes `yaml:"max_bytes"`

	sel selector.Selector
}

// Defaults of Policy.
const (
	// DefaultInterval is how often the rules are applied.
	DefaultInterval = 10 * time.Minute
	// DefaultBatchSize is how many captures one transaction deletes.
	DefaultBatchSize = 100
	// MaxRules bounds the rules of a policy.
	MaxRules = 64
)

// Load reads and validates a policy file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes a policy, sets its defaults and validates it. Unknown fields
// are errors.
func Parse(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p := &f.Retention
	if p.Interval == 0 {
		p.Interval = Duration(DefaultInterval)
	}
	if p.BatchSize == 0 {
		p.BatchSize = DefaultBatchSize
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks every field, naming the first bad one, and parses the
// selectors.
func (p *Policy) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Interval < 0:
		return bad("retention.interval", "must not be negative")
	case p.BatchSize < 0 || p.BatchSize > 10000:
		return bad("retention.batch_size", "%d not in 1..10000", p.BatchSize)
	case len(p.Rules) > MaxRules:
		return bad("retention.rules", "%d rules, at most %d", len(p.Rules), MaxRules)
	}
	names := map[string]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		field := fmt.Sprintf("retention.rules[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule-%d", i+1)
		}
		if err := r.compile(); err != nil {
			return bad(field+".selector", "%v", err)
		}
		switch {
		case names[r.Name]:
			return bad(field+".name", "%q is used twice", r.Name)
		case r.MaxAge < 0:
			return bad(field+".max_age", "must not be negative")
		case r.MaxBytes < 0:
			return bad(field+".max_bytes", "must not be negative")
		case r.MaxAge == 0 && r.MaxBytes == 0:
			return bad(field, "set max_age, max_bytes or both")
		}
		names[r.Name] = true
	}
	return nil
}

// compile parses the rule's selector.
func (r *Rule) compile() error {
	sel, err := selector.Parse(r.Selector)
	if err != nil {
		return err
	}
	r.sel = sel
	return nil
}

// Duration is a time.Duration written as "720h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string, or a number of days ("30d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration ("720h", "90m") or whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 720h or 30d", s)
	}
	return v, nil
}
