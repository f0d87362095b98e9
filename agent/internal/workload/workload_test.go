package workload

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDoer answers with scripted codes and delays and tracks concurrency.
type fakeDoer struct {
	delay    time.Duration
	code     int
	err      error
	inFlight atomic.Int32
	peak     atomic.Int32
	mu       sync.Mutex
	starts   []time.Time
	bodies   [][]byte
}

func (f *fakeDoer) Do(ctx context.Context, method, path string, body []byte) (int, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f.mu.Lock()
	f.starts = append(f.starts, time.Now())
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return f.code, f.err
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"ok", Spec{Endpoint: "/v1/score", Requests: 2}, true},
		{"no slash", Spec{Endpoint: "v1/score"}, false},
		{"negative warmups", Spec{Endpoint: "/x", Warmups: -1}, false},
		{"too many", Spec{Endpoint: "/x", Requests: MaxRequests + 1}, false},
		{"concurrency", Spec{Endpoint: "/x", Concurrency: MaxConcurrency + 1}, false},
		{"rate", Spec{Endpoint: "/x", Rate: -1}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadSpec)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name        string
		spec        Spec
		doer        *fakeDoer
		wantErr     error
		wantPeak    int32
		wantContext map[string]string
	}{
		{
			name:        "seed",
			spec:        Spec{Endpoint: "/v1/score", Body: []byte(`{}`), Warmups: 1, Requests: 2},
			doer:        &fakeDoer{code: 200, delay: 5 * time.Millisecond},
			wantPeak:    1,
			wantContext: map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)", "status./v1/score": "200×2"},
		},
		{
			name:        "concurrent",
			spec:        Spec{Endpoint: "/generate", Requests: 8, Concurrency: 4},
			doer:        &fakeDoer{code: 200, delay: 30 * time.Millisecond},
			wantPeak:    4,
			wantContext: map[string]string{"requests./generate": "8 (0 warmup + 8 profiled)", "status./generate": "200×8"},
		},
		{
			name:        "all failed",
			spec:        Spec{Endpoint: "/v1/score", Requests: 2},
			doer:        &fakeDoer{code: 400},
			wantErr:     ErrAllFailed,
			wantPeak:    1,
			wantContext: map[string]string{"requests./v1/score": "2 (0 warmup + 2 profiled)", "status./v1/score": "400×2"},
		},
		{
			name:        "transport errors",
			spec:        Spec{Endpoint: "/v1/score", Warmups: 1, Requests: 1},
			doer:        &fakeDoer{err: errors.New("connection refused")},
			wantErr:     ErrAllFailed,
			wantPeak:    1,
			wantContext: map[string]string{"requests./v1/score": "2 (1 warmup + 1 profiled)", "status./v1/score": "no answer×1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.doer, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := d.Warmup(ctx); err != nil {
				t.Fatal(err)
			}
			if err := d.Run(ctx); !errors.Is(err, tt.wantErr) {
				t.Errorf("Run = %v, want %v", err, tt.wantErr)
			}
			if got := tt.doer.peak.Load(); got != tt.wantPeak {
				t.Errorf("peak in flight = %d, want %d", got, tt.wantPeak)
			}
			got := d.Report().Context()
			for k, want := range tt.wantContext {
				if got[k] != want {
					t.Errorf("Context()[%q] = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

func TestRate(t *testing.T) {
	f := &fakeDoer{code: 200}
	d, _ := New(f, Spec{Endpoint: "/x", Requests: 5, Rate: 50, Concurrency: 5})
	start := time.Now()
	if err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// 5 requests at 50/s: the last starts 80 ms after the first.
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Errorf("5 requests at 50/s took %v, want >= 80ms", el)
	}
}

func TestCancel(t *testing.T) {
	f := &fakeDoer{code: 200, delay: time.Minute}
	d, _ := New(f, Spec{Endpoint: "/x", Requests: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := d.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want DeadlineExceeded", err)
	}
}

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := Percentile(v, tt.p); got != tt.want {
			t.Errorf("Percentile(1..100ms, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := Percentile(v[:2], 50); got != time.Millisecond {
		t.Errorf("Percentile([1,2], 50) = %v, want 1ms", got)
	}
}
