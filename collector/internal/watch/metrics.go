package watch

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
)

// metrics are the watch's Prometheus metrics.
type metrics struct {
	regressions  *prometheus.CounterVec
	improvements *prometheus.CounterVec
	perRequest   *prometheus.GaugeVec
	perSecond    *prometheus.GaugeVec
	idle         *prometheus.GaugeVec
	busy         *prometheus.GaugeVec
	span         *prometheus.GaugeVec
	stamp        *prometheus.GaugeVec
	webhook      *prometheus.CounterVec
}

// newMetrics makes the metrics and registers them on reg, if not nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	factory := promauto.With(reg) // a nil Registerer registers nothing
	capture := []string{"agent", "schedule"}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return factory.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, capture)
	}
	m := &metrics{
		regressions: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_regressions_total",
			Help: "Figures of new captures that grew against their baseline (docs/fleet.md), by metric: device_op_us, component:NAME, or op for any framework op.",
		}, []string{"metric"}),
		improvements: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_improvements_total",
			Help: "Figures of new captures that shrank against their baseline, by metric (as fleetprof_regressions_total).",
		}, []string{"metric"}),
		perRequest: gauge("fleetprof_capture_device_op_us_per_request",
			"Device op time per workload request of the agent's latest capture (absent without a request count)."),
		perSecond: gauge("fleetprof_capture_device_op_us_per_second",
			"Device op time per second profiled of the agent's latest capture."),
		idle: gauge("fleetprof_capture_idle_pct", "Idle share of the busiest device in the agent's latest capture."),
		busy: gauge("fleetprof_capture_device_busy_us", "Summed device busy time of the agent's latest capture."),
		span: gauge("fleetprof_capture_span_us", "Span of the agent's latest capture."),
		stamp: gauge("fleetprof_capture_timestamp_seconds",
			"When the agent's latest capture (of that schedule) was committed."),
		webhook: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_alert_webhook_total",
			Help: "Regressions sent to the alert webhook, by result: delivered, retried (an attempt failed), failed (rejected, attempts or deadline exhausted), dropped (queue full).",
		}, []string{"result"}),
	}
	return m
}

// observe sets the gauges of a capture's agent and schedule.
func (m *metrics) observe(s *insight.Summary) {
	l := prometheus.Labels{"agent": s.AgentID, "schedule": s.ScheduleID}
	if s.DeviceOpUSPerRequest != nil {
		m.perRequest.With(l).Set(*s.DeviceOpUSPerRequest)
	} else {
		m.perRequest.Delete(l)
	}
	if s.DeviceOpUSPerSecond != nil {
		m.perSecond.With(l).Set(*s.DeviceOpUSPerSecond)
	}
	m.idle.With(l).Set(s.IdlePct)
	m.busy.With(l).Set(s.DeviceBusyUS)
	m.span.With(l).Set(s.SpanUS)
	m.stamp.With(l).Set(float64(s.CommittedNS) / 1e9)
}

// change counts a regression or an improvement.
func (m *metrics) change(c *insight.Change) {
	metric := c.Metric
	if strings.HasPrefix(metric, insight.OpPrefix) {
		metric = "op" // op names are unbounded: one series for all
	}
	if c.Direction == insight.Regression {
		m.regressions.WithLabelValues(metric).Inc()
	} else {
		m.improvements.WithLabelValues(metric).Inc()
	}
}
