// Package loop runs the collector's background loops: workers draining a
// queue, and work repeated at an interval. Each loop ends, returning nil,
// when its context ends.
package loop

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// Drain starts n goroutines in g, each handing the values it receives from
// queue to do, one at a time, until ctx ends.
func Drain[T any](ctx context.Context, g *errgroup.Group, n int, queue <-chan T, do func(context.Context, T)) {
	for range n {
		g.Go(func() error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case v := <-queue:
					do(ctx, v)
				}
			}
		})
	}
}

// Every calls f at every tick of a ticker of the given interval (the first
// one interval from now) until ctx ends, and then returns nil.
func Every(ctx context.Context, interval time.Duration, f func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f(ctx)
		}
	}
}
