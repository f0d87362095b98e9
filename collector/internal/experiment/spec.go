// Package experiment runs experiments: one capture per cell of a matrix of
// workload parameters (input length, batch) and endpoints, on every agent a
// selector matches, stored together; and reports how device time per
// request, per component and per top op scales with each parameter, with
// linear and log-log fits and charts, endpoints side by side.
//
// # Cells
//
// The cells are every combination of the varied parameters' values, for
// each endpoint in turn (the first parameter outermost). Each cell's
// requests are built from one body (see Build): input_len repeats or cuts
// the query's (or prompt's) tokens or words; batch is the items of one
// /v1/score request, or that many concurrent /generate requests. A cell is
// one fleet capture: warm-ups first, then Repeat profiled rounds.
//
// # Running
//
// A Runner runs one experiment at a time, its cells one after another
// (agents take one capture at a time), and stores each cell's captures as it
// goes; an experiment the collector stopped in the middle of resumes at its
// first unfinished cell. Once every cell is captured it waits for the
// captures' analyses, so a done experiment's report is complete.
package experiment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// Errors.
var (
	// ErrBadSpec means an experiment's fields are out of range; the text
	// names the field.
	ErrBadSpec = errors.New("experiment: bad experiment")
	// ErrNotFound means no experiment has that id.
	ErrNotFound = errors.New("experiment: no such experiment")
	// ErrBusy means as many experiments as allowed are queued or running.
	ErrBusy = errors.New("experiment: too many experiments queued; wait for one to finish")
	// ErrUnknownFormat means a report format other than json, md or html.
	ErrUnknownFormat = errors.New("experiment: unknown report format")
)

// The parameters an experiment can vary.
const (
	// ParamInputLen is the query's (or prompt's) tokens, or words for text.
	ParamInputLen = "input_len"
	// ParamBatch is the items per /v1/score request, or the concurrent
	// /generate requests.
	ParamBatch = "batch"
)

// The endpoints an experiment can send to.
const (
	// EndpointScore is sglang-jax's scoring endpoint.
	EndpointScore = "/v1/score"
	// EndpointGenerate is sglang-jax's generation endpoint.
	EndpointGenerate = "/generate"
)

// Bounds of an experiment.
const (
	// MaxCells bounds the cells.
	MaxCells = 256
	// MaxValues bounds one parameter's values.
	MaxValues = 64
	// MaxInputLen bounds input_len.
	MaxInputLen = 1 << 20
	// MaxBatch bounds batch (the agent's workload allows 256 requests in
	// flight).
	MaxBatch = 256
	// MaxRepeat bounds the profiled rounds per cell.
	MaxRepeat = 1000
	// MaxWarmups bounds the warm-ups per cell.
	MaxWarmups = 100
	// MaxBodyBytes bounds the body, and each cell's built body: a cell's
	// body travels in a capture command, and an agent takes messages of at
	// most 4 MiB.
	MaxBodyBytes = 2 << 20
	// MaxTotalBodyBytes bounds the cells' bodies together (they are stored
	// with the experiment).
	MaxTotalBodyBytes = 32 << 20
	// MaxRequests bounds a cell's profiled requests (the agent's workload
	// bound).
	MaxRequests = 100_000
)

// bad wraps ErrBadSpec.
func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSpec, fmt.Sprintf(format, args...))
}

// Validate checks a spec, naming the first bad field, and builds its cells.
func Validate(s *collectorv1.ExperimentSpec) ([]Cell, error) {
	if s == nil {
		return nil, bad("no experiment")
	}
	if _, err := selector.Parse(s.GetSelector()); err != nil {
		return nil, fmt.Errorf("%w: selector: %w", ErrBadSpec, err)
	}
	if err := (labels.Limits{MaxCount: labels.DefaultMaxCount - 2}).Check(s.GetLabels()); err != nil {
		return nil, fmt.Errorf("%w: labels: %w", ErrBadSpec, err)
	}
	if len(s.GetName()) > 200 {
		return nil, bad("name is %d bytes; at most 200", len(s.GetName()))
	}
	if len(s.GetWorkloadBody()) > MaxBodyBytes {
		return nil, bad("workload body of %d bytes is over %d", len(s.GetWorkloadBody()), MaxBodyBytes)
	}
	b, err := ParseBody(s.GetWorkloadBody())
	if err != nil {
		return nil, err
	}
	switch r := s.GetRepeat(); {
	case r < 0 || r > MaxRepeat:
		return nil, bad("repeat %d not in 1..%d", r, MaxRepeat)
	}
	if w := s.GetWarmups(); w > MaxWarmups {
		return nil, bad("warmups %d over %d", w, MaxWarmups)
	}
	if o := s.GetOptions(); o.GetDurationMs() < 0 || o.GetGapPs() < 0 || o.GetPadPs() < 0 {
		return nil, bad("capture durations must not be negative")
	}
	if len(s.GetVary()) == 0 {
		return nil, bad("vary nothing: give --vary input_len=128,512,2048 and/or --vary batch=1,4,16")
	}
	seen := map[string]bool{}
	cells := 1
	for _, p := range s.GetVary() {
		name := p.GetName()
		switch {
		case name != ParamInputLen && name != ParamBatch:
			return nil, bad("unknown parameter %q: want %s or %s", name, ParamInputLen, ParamBatch)
		case seen[name]:
			return nil, bad("parameter %s varied twice", name)
		case len(p.GetValues()) == 0 || len(p.GetValues()) > MaxValues:
			return nil, bad("%s has %d values: want 1..%d", name, len(p.GetValues()), MaxValues)
		}
		seen[name] = true
		limit := int64(MaxInputLen)
		if name == ParamBatch {
			limit = MaxBatch
		}
		for _, v := range p.GetValues() {
			if v < 1 || v > limit {
				return nil, bad("%s value %d not in 1..%d", name, v, limit)
			}
		}
		if c := slices.Clone(p.GetValues()); len(slices.Compact(slices.Sorted(slices.Values(c)))) != len(c) {
			return nil, bad("%s has a value twice", name)
		}
		cells *= len(p.GetValues())
	}
	eps := s.GetEndpoints()
	if len(eps) == 0 {
		eps = []string{b.Endpoint()}
	}
	for i, e := range eps {
		if e != EndpointScore && e != EndpointGenerate {
			return nil, bad("endpoint %q: want %s or %s", e, EndpointScore, EndpointGenerate)
		}
		if slices.Contains(eps[:i], e) {
			return nil, bad("endpoint %s given twice", e)
		}
	}
	if cells*len(eps) > MaxCells {
		return nil, bad("%d cells: at most %d", cells*len(eps), MaxCells)
	}
	var out []Cell
	total := 0
	for _, ep := range eps {
		for _, params := range combinations(s.GetVary()) {
			w, err := b.Workload(ep, params, s.GetRepeat(), s.GetWarmups())
			if err != nil {
				return nil, err
			}
			if total += len(w.GetBody()); total > MaxTotalBodyBytes {
				return nil, bad("the cells' bodies add up to over %d bytes: lower input_len or batch, or vary fewer values", MaxTotalBodyBytes)
			}
			out = append(out, Cell{Params: params, Endpoint: ep, Workload: w})
		}
	}
	return out, nil
}

// combinations returns every combination of the parameters' values, the
// first parameter outermost.
func combinations(vary []*collectorv1.Parameter) []map[string]int64 {
	out := []map[string]int64{{}}
	for _, p := range vary {
		var next []map[string]int64
		for _, base := range out {
			for _, v := range p.GetValues() {
				m := make(map[string]int64, len(base)+1)
				for k, x := range base {
					m[k] = x
				}
				m[p.GetName()] = v
				next = append(next, m)
			}
		}
		out = next
	}
	return out
}

// ParseVary reads a --vary flag's value, "name=v1,v2,...".
func ParseVary(s string) (*collectorv1.Parameter, error) {
	name, list, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(list) == "" {
		return nil, bad("--vary %q: want name=v1,v2,... (e.g. input_len=128,512,2048)", s)
	}
	p := &collectorv1.Parameter{Name: name}
	for f := range strings.SplitSeq(list, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, bad("--vary %s: %q is not a whole number", name, f)
		}
		p.Values = append(p.Values, v)
	}
	return p, nil
}
