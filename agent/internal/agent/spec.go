package agent

import (
	"fmt"
	"strconv"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/workload"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Spec is one capture's options.
type Spec struct {
	// ID names the capture; empty means one is made up.
	ID string
	// Trigger is "manual", "fleet", "schedule" or "standalone".
	Trigger string
	// FleetID and ScheduleID say what asked for it, if anything.
	FleetID, ScheduleID string
	// Backend is "http" or "grpc"; empty means the agent's default.
	Backend string
	// Duration is how long to profile.
	Duration time.Duration
	// NumSteps stops after N forward steps (http backend).
	NumSteps int64
	// Tracer levels; nil leaves the default.
	HostTracerLevel, DeviceTracerLevel, PythonTracerLevel *int32
	// Workload, if set, is sent around the profile.
	Workload *workload.Spec
	// Gap and Pad are the window parameters in picoseconds (0: defaults).
	Gap, Pad int64
	// KeepRaw keeps the raw profiler output after ingest.
	KeepRaw bool
	// StartAt, if set, is when to start profiling.
	StartAt time.Time
	// Deadline, if set, is when profiling must be done.
	Deadline time.Time
}

// SpecFromCommand turns a collector's command into a Spec.
func SpecFromCommand(cmd *agentv1.CaptureCommand) Spec {
	o := cmd.GetOptions()
	s := Spec{
		ID:         cmd.GetCaptureId(),
		Trigger:    cmd.GetTrigger(),
		FleetID:    cmd.GetFleetId(),
		ScheduleID: cmd.GetScheduleId(),
		Backend:    o.GetBackend(),
		Duration:   time.Duration(o.GetDurationMs()) * time.Millisecond,
		NumSteps:   o.GetNumSteps(),
		Gap:        o.GetGapPs(),
		Pad:        o.GetPadPs(),
		KeepRaw:    o.GetKeepRaw(),
	}
	// Proto3 cannot tell 0 from unset: 0 means the default, except for the
	// python tracer, whose default is 0 anyway.
	if v := o.GetHostTracerLevel(); v > 0 {
		s.HostTracerLevel = &v
	}
	if v := o.GetDeviceTracerLevel(); v > 0 {
		s.DeviceTracerLevel = &v
	}
	if v := o.GetPythonTracerLevel(); v > 0 {
		s.PythonTracerLevel = &v
	}
	if w := o.GetWorkload(); w != nil && w.GetEndpoint() != "" {
		s.Workload = &workload.Spec{
			Endpoint:    w.GetEndpoint(),
			Method:      w.GetMethod(),
			Body:        w.GetBody(),
			Warmups:     int(w.GetWarmups()),
			Requests:    int(w.GetRequests()),
			Concurrency: int(w.GetConcurrency()),
			Rate:        w.GetRate(),
		}
	}
	if t := cmd.GetStartAt(); t != nil {
		s.StartAt = t.AsTime()
	}
	if t := cmd.GetDeadline(); t != nil {
		s.Deadline = t.AsTime()
	}
	return s
}

// Context returns the options as capture context entries.
func (s Spec) Context(backend string) map[string]string {
	m := map[string]string{
		"capture.id":      s.ID,
		"capture.trigger": s.Trigger,
		"capture.backend": backend,
	}
	if s.FleetID != "" {
		m["capture.fleet_id"] = s.FleetID
	}
	if s.ScheduleID != "" {
		m["capture.schedule_id"] = s.ScheduleID
	}
	if s.Duration > 0 {
		m["capture.duration_ms"] = strconv.FormatInt(s.Duration.Milliseconds(), 10)
	}
	if s.NumSteps > 0 {
		m["capture.num_steps"] = strconv.FormatInt(s.NumSteps, 10)
	}
	level := func(k string, p *int32) {
		if p != nil {
			m["capture."+k] = strconv.Itoa(int(*p))
		}
	}
	level("host_tracer_level", s.HostTracerLevel)
	level("device_tracer_level", s.DeviceTracerLevel)
	level("python_tracer_level", s.PythonTracerLevel)
	if s.Gap != 0 {
		m["capture.gap_ps"] = strconv.FormatInt(s.Gap, 10)
	}
	if s.Pad != 0 {
		m["capture.pad_ps"] = strconv.FormatInt(s.Pad, 10)
	}
	if w := s.Workload; w != nil {
		m["workload.endpoint"] = w.Endpoint
		m["workload.plan"] = fmt.Sprintf("%d warmups, %d requests, concurrency %d, rate %g/s",
			w.Warmups, w.Requests, max(w.Concurrency, 1), w.Rate)
	}
	return m
}

// deviceRequested reports whether device tracing was asked for: explicitly,
// or by leaving the level at its default (1).
func (s Spec) deviceRequested() bool {
	return s.DeviceTracerLevel == nil || *s.DeviceTracerLevel > 0
}

// WithDefaults fills s's unset options from d.
func (s Spec) WithDefaults(d Spec) Spec {
	if s.Backend == "" {
		s.Backend = d.Backend
	}
	if s.Duration == 0 && s.NumSteps == 0 {
		s.Duration, s.NumSteps = d.Duration, d.NumSteps
	}
	if s.HostTracerLevel == nil {
		s.HostTracerLevel = d.HostTracerLevel
	}
	if s.DeviceTracerLevel == nil {
		s.DeviceTracerLevel = d.DeviceTracerLevel
	}
	if s.PythonTracerLevel == nil {
		s.PythonTracerLevel = d.PythonTracerLevel
	}
	if s.Gap == 0 {
		s.Gap = d.Gap
	}
	if s.Pad == 0 {
		s.Pad = d.Pad
	}
	s.KeepRaw = s.KeepRaw || d.KeepRaw
	if s.Workload == nil {
		s.Workload = d.Workload
	}
	return s
}
