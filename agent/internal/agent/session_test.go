package agent

import (
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/backend"
)

func TestSessionNS(t *testing.T) {
	t0 := time.Date(2026, 2, 5, 20, 15, 30, 123456789, time.UTC)
	tests := []struct {
		name string
		res  backend.Result
		want [2]int64
	}{
		{"known", backend.Result{Started: t0, Stopped: t0.Add(5 * time.Second)}, [2]int64{t0.UnixNano(), t0.Add(5 * time.Second).UnixNano()}},
		{"not started", backend.Result{Stopped: t0}, [2]int64{}},
		{"not stopped", backend.Result{Started: t0}, [2]int64{}},
		{"stopped before started", backend.Result{Started: t0, Stopped: t0.Add(-time.Millisecond)}, [2]int64{}},
	}
	for _, tt := range tests {
		if got := sessionNS(&tt.res); got != tt.want {
			t.Errorf("%s: sessionNS = %v, want %v", tt.name, got, tt.want)
		}
	}
}
