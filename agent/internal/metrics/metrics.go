// Package metrics holds the agent's Prometheus metrics, registered on a
// registry the caller provides.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the agent's counters and gauges. A nil *Metrics is valid and
// records nothing.
type Metrics struct {
	// Captures counts captures by final status (done, failed, busy, spooled…).
	Captures *prometheus.CounterVec
	// RawBytes counts raw profiler output read.
	RawBytes prometheus.Counter
	// CaptureBytes counts trimmed capture bytes written to the spool.
	CaptureBytes prometheus.Counter
	// UploadedBytes counts capture bytes sent to the collector.
	UploadedBytes prometheus.Counter
	// TrimRatio observes trimmed bytes / raw bytes per capture.
	TrimRatio prometheus.Histogram
	// SpoolBytes is the spool's size.
	SpoolBytes prometheus.Gauge
	// SpoolDropped counts captures dropped from a full spool.
	SpoolDropped prometheus.Counter
	// ServerRestarts counts restarts of the wrapped model server.
	ServerRestarts prometheus.Counter
	// Checks counts integrity check findings by name.
	Checks *prometheus.CounterVec
	// Connected is 1 while the control stream is up.
	Connected prometheus.Gauge
	// UploadsRejected counts captures the collector refused for good (or
	// whose spool file was corrupt), moved to the spool's rejected folder,
	// by reason.
	UploadsRejected *prometheus.CounterVec
	// UploadFailures counts failed upload attempts that are retried, by
	// gRPC status code.
	UploadFailures *prometheus.CounterVec
}

// New creates the metrics and registers them on reg (nil: not registered).
func New(reg prometheus.Registerer) *Metrics {
	factory := promauto.With(reg) // a nil Registerer registers nothing
	m := &Metrics{
		Captures: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_agent_captures_total", Help: "Captures by final status.",
		}, []string{"status"}),
		RawBytes: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_agent_raw_bytes_total", Help: "Raw profiler output read, in bytes.",
		}),
		CaptureBytes: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_agent_capture_bytes_total", Help: "Trimmed capture bytes written to the spool.",
		}),
		UploadedBytes: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_agent_uploaded_bytes_total", Help: "Capture bytes sent to the collector.",
		}),
		TrimRatio: factory.NewHistogram(prometheus.HistogramOpts{
			Name: "fleetprof_agent_trim_ratio", Help: "Trimmed capture size over raw profiler output size.",
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2},
		}),
		SpoolBytes: factory.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_agent_spool_bytes", Help: "Bytes held in the spool.",
		}),
		SpoolDropped: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_agent_spool_dropped_total", Help: "Captures dropped from a full spool before upload.",
		}),
		ServerRestarts: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_agent_server_restarts_total", Help: "Restarts of the wrapped model server.",
		}),
		Checks: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_agent_integrity_checks_total", Help: "Integrity check findings by check name.",
		}, []string{"check"}),
		Connected: factory.NewGauge(prometheus.GaugeOpts{
			Name: "fleetprof_agent_collector_connected", Help: "1 while the control stream to the collector is up.",
		}),
		UploadsRejected: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_agent_uploads_rejected_total",
			Help: "Captures the collector refused for good, or whose spool file was corrupt, moved to the spool's rejected folder, by reason.",
		}, []string{"reason"}),
		UploadFailures: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_agent_upload_failures_total", Help: "Failed upload attempts that are retried with backoff, by gRPC status code.",
		}, []string{"code"}),
	}
	return m
}

// Capture counts one capture with the given final status.
func (m *Metrics) Capture(status string) {
	if m != nil {
		m.Captures.WithLabelValues(status).Inc()
	}
}

// Check counts one integrity finding.
func (m *Metrics) Check(name string) {
	if m != nil {
		m.Checks.WithLabelValues(name).Inc()
	}
}

// Restart counts one model server restart.
func (m *Metrics) Restart() {
	if m != nil {
		m.ServerRestarts.Inc()
	}
}

// Spool sets the spool's size.
func (m *Metrics) Spool(bytes int64) {
	if m != nil {
		m.SpoolBytes.Set(float64(bytes))
	}
}

// Dropped counts one capture dropped from the spool.
func (m *Metrics) Dropped() {
	if m != nil {
		m.SpoolDropped.Inc()
	}
}

// Uploaded counts bytes sent.
func (m *Metrics) Uploaded(n int) {
	if m != nil {
		m.UploadedBytes.Add(float64(n))
	}
}

// Trimmed records one capture's raw and trimmed sizes.
func (m *Metrics) Trimmed(raw, trimmed int64) {
	if m == nil {
		return
	}
	m.RawBytes.Add(float64(raw))
	m.CaptureBytes.Add(float64(trimmed))
	if raw > 0 {
		m.TrimRatio.Observe(float64(trimmed) / float64(raw))
	}
}

// SetConnected records whether the control stream is up.
func (m *Metrics) SetConnected(up bool) {
	if m == nil {
		return
	}
	if up {
		m.Connected.Set(1)
	} else {
		m.Connected.Set(0)
	}
}

// Rejected counts one capture moved to the rejected folder.
func (m *Metrics) Rejected(reason string) {
	if m != nil {
		m.UploadsRejected.WithLabelValues(reason).Inc()
	}
}

// UploadFailed counts one failed upload attempt that will be retried.
func (m *Metrics) UploadFailed(code string) {
	if m != nil {
		m.UploadFailures.WithLabelValues(code).Inc()
	}
}
