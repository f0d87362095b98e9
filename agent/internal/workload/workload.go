// Package workload replays a request body against the model server around
// a capture: warm-ups first (not profiled), then N requests at a
// concurrency or a rate, recording each request's latency and status.
package workload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Limits keep a workload bounded.
const (
	// MaxRequests bounds warm-ups and requests each.
	MaxRequests = 100_000
	// MaxConcurrency bounds requests in flight.
	MaxConcurrency = 256
	// MaxBodyBytes bounds the request body.
	MaxBodyBytes = 16 << 20
)

// Errors.
var (
	// ErrBadSpec means the workload's settings make no sense.
	ErrBadSpec = errors.New("workload: bad workload")
	// ErrAllFailed means no profiled request succeeded.
	ErrAllFailed = errors.New("workload: every profiled request failed: the trace shows no served request")
)

// Spec is a workload. Endpoint is required.
type Spec struct {
	// Endpoint is the path, e.g. "/v1/score".
	Endpoint string
	// Method is the HTTP method. Empty means POST.
	Method string
	// Body is the request body.
	Body []byte
	// Warmups are sent one at a time before profiling; not profiled.
	Warmups int
	// Requests are sent while profiling.
	Requests int
	// Concurrency is the requests in flight at once. Zero means 1.
	Concurrency int
	// Rate, if set, is requests per second (each request starts on
	// schedule, up to Concurrency in flight).
	Rate float64
	// Timeout bounds each request. Zero means 60s.
	Timeout time.Duration
}

// Validate checks the spec, naming the bad field.
func (s Spec) Validate() error {
	switch {
	case !strings.HasPrefix(s.Endpoint, "/"):
		return fmt.Errorf("%w: endpoint %q must be a path starting with /", ErrBadSpec, s.Endpoint)
	case s.Warmups < 0 || s.Warmups > MaxRequests:
		return fmt.Errorf("%w: warmups %d not in 0..%d", ErrBadSpec, s.Warmups, MaxRequests)
	case s.Requests < 0 || s.Requests > MaxRequests:
		return fmt.Errorf("%w: requests %d not in 0..%d", ErrBadSpec, s.Requests, MaxRequests)
	case s.Concurrency < 0 || s.Concurrency > MaxConcurrency:
		return fmt.Errorf("%w: concurrency %d not in 0..%d", ErrBadSpec, s.Concurrency, MaxConcurrency)
	case s.Rate < 0:
		return fmt.Errorf("%w: rate %v is negative", ErrBadSpec, s.Rate)
	case len(s.Body) > MaxBodyBytes:
		return fmt.Errorf("%w: body of %d bytes is over %d", ErrBadSpec, len(s.Body), MaxBodyBytes)
	}
	return nil
}

// Doer sends one request and returns its status code.
type Doer interface {
	Do(ctx context.Context, method, path string, body []byte) (int, error)
}

// Sample is one request's outcome. Its times are read on the host's clock,
// the one the profiler's host events use: Start from the wall clock once,
// the rest as monotonic durations from it.
type Sample struct {
	// Seq numbers the request in sending order from 1, warm-ups and profiled
	// requests each on their own.
	Seq int
	// Warmup is true for warm-up requests.
	Warmup bool
	// Start is when it was sent.
	Start time.Time
	// FirstByte is how long after Start the answer's first byte came;
	// Latency when none came (or the Doer sends no HTTP trace events).
	FirstByte time.Duration
	// Latency is how long it took, to the end of the answer.
	Latency time.Duration
	// Status is the HTTP status code (0 when no answer came).
	Status int
	// Err is the transport error, if any.
	Err string
}

// Driver runs one workload.
type Driver struct {
	spec Spec
	do   Doer
	seq  [2]atomic.Int64 // profiled, warm-up

	mu      sync.Mutex
	samples []Sample
}

// New checks spec and returns a driver sending through do.
func New(do Doer, spec Spec) (*Driver, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Method == "" {
		spec.Method = http.MethodPost
	}
	if spec.Concurrency == 0 {
		spec.Concurrency = 1
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 60 * time.Second
	}
	return &Driver{spec: spec, do: do}, nil
}

// Warmup sends the warm-up requests one at a time. A failed warm-up is
// recorded, not fatal.
func (d *Driver) Warmup(ctx context.Context) error {
	for range d.spec.Warmups {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.one(ctx, true)
	}
	return nil
}

// Run sends the profiled requests and returns ErrAllFailed when none
// succeeded.
func (d *Driver) Run(ctx context.Context) error {
	n := d.spec.Requests
	if n == 0 {
		return nil
	}
	sem := make(chan struct{}, d.spec.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if d.spec.Rate > 0 {
			at := start.Add(time.Duration(float64(i) / d.spec.Rate * float64(time.Second)))
			if wait := time.Until(at); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
			}
		}
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.one(ctx, false)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if r := d.Report(); r.OK == 0 {
		return fmt.Errorf("%w (%s)", ErrAllFailed, r.StatusSummary())
	}
	return nil
}

func (d *Driver) one(ctx context.Context, warmup bool) {
	ctx, cancel := context.WithTimeout(ctx, d.spec.Timeout)
	defer cancel()
	kind := 0
	if warmup {
		kind = 1
	}
	s := Sample{Seq: int(d.seq[kind].Add(1)), Warmup: warmup, Start: time.Now()}
	var first atomic.Int64 // ns after Start, +1 so that 0 means none
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first.CompareAndSwap(0, int64(time.Since(s.Start))+1) },
	})
	code, err := d.do.Do(ctx, d.spec.Method, d.spec.Endpoint, d.spec.Body)
	s.Latency = time.Since(s.Start)
	s.FirstByte = s.Latency
	if f := first.Load(); f > 0 {
		s.FirstByte = min(time.Duration(f-1), s.Latency)
	}
	s.Status = code
	if err != nil {
		s.Err = err.Error()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.samples = append(d.samples, s)
}

// Report summarises a workload.
type Report struct {
	// Endpoint is the path the requests went to.
	Endpoint string
	// Warmups and Profiled count the requests sent.
	Warmups, Profiled int
	// OK counts profiled requests answered 2xx; Failed the rest.
	OK, Failed int
	// Statuses counts profiled requests by status code (0: no answer).
	Statuses map[int]int
	// P50, P99 and Max are profiled requests' latencies.
	P50, P99, Max time.Duration
	// Samples are every request, in completion order.
	Samples []Sample
}

// Report returns the samples so far, summarised.
func (d *Driver) Report() Report {
	d.mu.Lock()
	samples := slices.Clone(d.samples)
	d.mu.Unlock()
	r := Report{Endpoint: d.spec.Endpoint, Statuses: map[int]int{}, Samples: samples}
	var lat []time.Duration
	for _, s := range samples {
		if s.Warmup {
			r.Warmups++
			continue
		}
		r.Profiled++
		r.Statuses[s.Status]++
		if s.Err == "" && s.Status/100 == 2 {
			r.OK++
		} else {
			r.Failed++
		}
		lat = append(lat, s.Latency)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50 = Percentile(lat, 50)
		r.P99 = Percentile(lat, 99)
		r.Max = lat[len(lat)-1]
	}
	return r
}

// Percentile returns the nearest-rank percentile p (0..100) of sorted values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// StatusSummary formats the status counts, e.g. "200×2, 500×1".
func (r Report) StatusSummary() string {
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, r.Statuses[c]))
	}
	return strings.Join(parts, ", ")
}

// MaxSkew bounds how far from a capture's base time a request may have been
// sent and still be placed on its timeline: a request further away is from
// another profile, or the clocks disagree.
const MaxSkew = 24 * time.Hour

// Requests returns the profiled requests (not the warm-ups) in sending
// order, timed in picoseconds relative to baseNS (a capture's base time in
// nanoseconds since the epoch), for Capture.Requests. Requests sent more
// than MaxSkew from baseNS are left out (picoseconds that far away would
// not fit an int64); Report.Profiled minus the length tells how many.
func (r Report) Requests(baseNS int64) []capture.Request {
	samples := slices.DeleteFunc(slices.Clone(r.Samples), func(s Sample) bool { return s.Warmup })
	slices.SortFunc(samples, func(a, b Sample) int { return a.Seq - b.Seq })
	out := make([]capture.Request, 0, len(samples))
	for _, s := range samples {
		off := s.Start.UnixNano() - baseNS
		if off > int64(MaxSkew) || off < -int64(MaxSkew) || s.Latency > MaxSkew {
			continue
		}
		send := off * capture.Nanosecond
		out = append(out, capture.Request{
			ID:        "r" + strconv.Itoa(s.Seq),
			Endpoint:  r.Endpoint,
			Send:      send,
			FirstByte: send + int64(s.FirstByte)*capture.Nanosecond,
			End:       send + int64(s.Latency)*capture.Nanosecond,
			Status:    s.Status,
			Err:       s.Err,
		})
	}
	return out
}

// Context returns the workload's lines for a capture's context, e.g.
// "requests./v1/score": "3 (1 warmup + 2 profiled)".
func (r Report) Context() map[string]string {
	ep := r.Endpoint
	m := map[string]string{
		"requests." + ep: fmt.Sprintf("%d (%d warmup + %d profiled)", r.Warmups+r.Profiled, r.Warmups, r.Profiled),
	}
	if r.Profiled > 0 {
		m["latency."+ep+".p50_ms"] = ms(r.P50)
		m["latency."+ep+".p99_ms"] = ms(r.P99)
		m["latency."+ep+".max_ms"] = ms(r.Max)
		m["status."+ep] = r.StatusSummary()
	}
	return m
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}
