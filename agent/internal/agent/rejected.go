package agent

import (
	"os"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
)

// Rejected is called when the collector refused a capture for good (or
// its spool file was corrupt) and it moved to the spool's rejected folder:
// the raw output is deleted unless kept (the rejected .fpcap stays, with
// the reason beside it) and the capture is counted as rejected. The
// uplink logs the reason and reports it to the collector.
func (a *Agent) Rejected(m spool.Meta, _ string) {
	if m.RawDir != "" && !m.KeepRaw {
		if err := os.RemoveAll(m.RawDir); err != nil {
			a.log.Warn("delete raw profiler output", "capture_id", m.CaptureID, "dir", m.RawDir, "err", err)
		}
	}
	a.opts.Metrics.Capture("rejected")
}
