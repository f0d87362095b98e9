// Package retry is how fleetprof's agent and collector wait between tries:
// an exponential backoff with jitter, and a sleep that ends with its
// context. Like plugins/transport, it is not part of the plugin SDK.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff: the first wait is Min, each next one
// doubles up to Max, and every wait is spread by ±20 % so that many
// clients retrying the same server do not retry in step. The zero value
// waits 1 s, doubling up to 1 min. It is not safe for concurrent use.
type Backoff struct {
	// Min is the first wait. Zero means 1 s.
	Min time.Duration
	// Max caps the wait (before the spread). Zero means 1 min.
	Max time.Duration

	cur time.Duration
}

// Next returns the wait before the next try.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = time.Minute
	}
	if b.cur == 0 {
		b.cur = min(lo, hi)
	} else {
		b.cur = min(2*b.cur, hi)
	}
	return Jitter(b.cur)
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Jitter spreads d uniformly over ±20 %.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d*8/10 + rand.N(d*4/10+1)
}

// Sleep waits for d, or until ctx is done; it then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
