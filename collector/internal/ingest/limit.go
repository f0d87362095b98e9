package ingest

import (
	"context"
	"sync"
	"time"
)

// rates holds one token bucket of upload bytes per agent.
type rates struct {
	rate  float64 // bytes per second; 0 means no limit
	burst float64 // bucket size in bytes

	// mu guards buckets.
	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

// tokenBucket is one agent's allowance.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newRates(rate float64, burst int64) *rates {
	return &rates{rate: rate, burst: float64(burst), buckets: map[string]*tokenBucket{}}
}

// wait takes n bytes from agent's bucket, sleeping until they are there or
// ctx ends. n is at most the burst (a chunk).
func (r *rates) wait(ctx context.Context, agent string, n int) error {
	if r.rate <= 0 || n <= 0 {
		return nil
	}
	r.mu.Lock()
	b := r.buckets[agent]
	now := time.Now()
	if b == nil {
		b = &tokenBucket{tokens: r.burst, last: now}
		r.buckets[agent] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.last).Seconds()*r.rate)
	b.last = now
	b.tokens -= float64(n) // may go negative: the debt is the wait
	debt := -b.tokens
	r.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / r.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// forgetIdle drops the buckets that have refilled: their agents are idle.
func (r *rates) forgetIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for id, b := range r.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*r.rate >= r.burst {
			delete(r.buckets, id)
		}
	}
}
