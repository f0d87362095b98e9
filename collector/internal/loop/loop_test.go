package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

func TestDrain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan int)
	done := make(chan int)
	Drain(gctx, g, 3, queue, func(_ context.Context, v int) { done <- v * 2 })
	sum := 0
	for i := range 5 {
		queue <- i
		sum += <-done
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Errorf("Wait() = %v, want nil", err)
	}
	if want := 20; sum != want {
		t.Errorf("sum of done = %d, want %d", sum, want)
	}
}

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	errc := make(chan error, 1)
	go func() {
		errc <- Every(ctx, time.Millisecond, func(context.Context) {
			if n.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Every() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not end with its context")
	}
	if got := n.Load(); got < 3 {
		t.Errorf("calls = %d, want at least 3", got)
	}
}
