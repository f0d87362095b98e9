package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Capture("done")
	m.Capture("done")
	m.Capture("busy")
	m.Restart()
	m.Spool(1234)
	m.Trimmed(1000, 10)
	m.Dropped()
	m.Uploaded(10)
	m.Check("no_device_plane")
	m.SetConnected(true)
	want := `
# HELP fleetprof_agent_captures_total Captures by final status.
# TYPE fleetprof_agent_captures_total counter
fleetprof_agent_captures_total{status="busy"} 1
fleetprof_agent_captures_total{status="done"} 2
# HELP fleetprof_agent_server_restarts_total Restarts of the wrapped model server.
# TYPE fleetprof_agent_server_restarts_total counter
fleetprof_agent_server_restarts_total 1
# HELP fleetprof_agent_spool_bytes Bytes held in the spool.
# TYPE fleetprof_agent_spool_bytes gauge
fleetprof_agent_spool_bytes 1234
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fleetprof_agent_captures_total", "fleetprof_agent_server_restarts_total", "fleetprof_agent_spool_bytes"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.RawBytes); got != 1000 {
		t.Errorf("raw bytes = %v, want 1000", got)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 11 {
		t.Errorf("GatherAndCount = %d, %v; want 11 series (captures has two)", n, err)
	}
}

func TestNil(t *testing.T) {
	var m *Metrics
	m.Capture("done")
	m.Restart()
	m.Spool(1)
	m.Trimmed(1, 1)
	m.Dropped()
	m.Uploaded(1)
	m.Check("x")
	m.SetConnected(false)
}
