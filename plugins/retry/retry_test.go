package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond}
	for i, want := range []time.Duration{100, 200, 400, 400} {
		want *= time.Millisecond
		if got := b.Next(); got < want*8/10 || got > want*12/10 {
			t.Errorf("wait %d = %v, want %v ± 20 %%", i, got, want)
		}
	}
	b.Reset()
	if got := b.Next(); got > 120*time.Millisecond {
		t.Errorf("after Reset: %v, want about 100ms", got)
	}
	var z Backoff
	if got := z.Next(); got < 800*time.Millisecond || got > 1200*time.Millisecond {
		t.Errorf("zero Backoff's first wait = %v, want about 1s", got)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Sleep(cancelled) = %v after %v", err, time.Since(start))
	}
}
