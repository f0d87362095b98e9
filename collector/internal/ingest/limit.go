package ingest

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// rates holds one token bucket of upload bytes per agent.
type rates struct {
	limit rate.Limit // bytes per second; 0 means no limit
	burst int        // bucket size in bytes

	// mu guards limiters.
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

func newRates(bytesPerSec float64, burst int64) *rates {
	return &rates{limit: rate.Limit(bytesPerSec), burst: int(burst), limiters: map[string]*rate.Limiter{}}
}

// wait takes n bytes from agent's bucket, sleeping until they are there or
// ctx ends. n is at most the burst (a chunk); more is taken as the burst.
func (r *rates) wait(ctx context.Context, agent string, n int) error {
	if r.limit <= 0 || n <= 0 {
		return nil
	}
	r.mu.Lock()
	l := r.limiters[agent]
	if l == nil {
		l = rate.NewLimiter(r.limit, r.burst)
		r.limiters[agent] = l
	}
	r.mu.Unlock()
	if err := l.WaitN(ctx, min(n, r.burst)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("upload rate: %w", err) // the wait would outlast ctx's deadline
	}
	return nil
}

// forgetIdle drops the buckets that have refilled: their agents are idle.
func (r *rates) forgetIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, l := range r.limiters {
		if l.Tokens() >= float64(r.burst) {
			delete(r.limiters, id)
		}
	}
}
