package sglangtest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/xplanew"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// CPUOnlyXPlane returns an XSpace with a host plane only, as an unpatched
// sglang-jax writes when asked for device tracing: n python-tracer events
// of 1 ms each, 2 ms apart.
func CPUOnlyXPlane(tb testing.TB, n int) []byte {
	tb.Helper()
	line := &capture.Line{ID: 1, DisplayID: 1, Name: "python"}
	for i := range n {
		line.Events = append(line.Events, capture.Event{
			Name: fmt.Sprintf("run_batch %d", i), Start: int64(i) * 2 * capture.Millisecond,
			Dur: capture.Millisecond, Self: capture.Millisecond,
		})
	}
	c := &capture.Capture{
		BaseNS: 1_770_322_563_000_000_000,
		Planes: []*capture.Plane{{ID: 701, Name: "/host:CPU", Lines: []*capture.Line{line}}},
	}
	var buf bytes.Buffer
	if err := xplanew.Write(&buf, c); err != nil {
		tb.Fatalf("write the CPU-only XSpace: %v", err)
	}
	return buf.Bytes()
}
