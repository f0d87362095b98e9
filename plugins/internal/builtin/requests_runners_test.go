package builtin_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/requests"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// TestRequestsRunners runs the requests analyzer the three ways (direct,
// in-process gRPC, its own plugin binary): the requests reach the plugin in
// the capture and the rows agree.
func TestRequestsRunners(t *testing.T) {
	c := builtintest.Small()
	us := builtintest.US
	c.Requests = []capture.Request{
		{ID: "r1", Endpoint: "/v1/score", Send: 0, FirstByte: 9 * us, End: 10 * us, Status: 200},
		{ID: "r2", Endpoint: "/v1/score", Send: 6 * us, FirstByte: 6 * us, End: 6 * us, Err: "refused"},
	}
	// Busy over both TPUs: 1..5.75 and 6..7 µs; host work (run, step): 0..8.
	want := []sdk.Row{
		{"request": "r1", "endpoint": "/v1/score", "latency_ms": 0.01, "device_busy_ms": 0.00575, "shared_ms": 0.0,
			"windows": int64(1), "host_ms": 0.00225, "wait_ms": 0.002, "top_component": "matmul"},
		{"request": "r2", "endpoint": "/v1/score", "latency_ms": 0.0, "device_busy_ms": 0.0, "shared_ms": 0.0,
			"windows": int64(1), "host_ms": 0.0, "wait_ms": 0.0, "top_component": ""},
	}
	for _, r := range runners {
		t.Run(r.name, func(t *testing.T) {
			s := r.run(t, requests.Analyzer{}, c, nil)
			if diff := cmp.Diff(want, s.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}
