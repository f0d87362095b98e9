package captureopt

import (
	"time"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// psPerNs converts the proto's picoseconds.
const psPerNs = 1000

// ToProto returns o as a capture command's options, after Validate, with
// body (from ReadBody) as the workload's request body; nil body means no
// workload. Unset tracer levels travel as -1. An explicit tracer level 0
// cannot travel (the agent reads 0 as unset): it is an ErrUnsendable.
func (o Options) ToProto(body []byte) (*agentv1.CaptureOptions, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name string
		v    int
	}{{"host-tracer-level", o.HostTracerLevel}, {"device-tracer-level", o.DeviceTracerLevel}, {"python-tracer-level", o.PythonTracerLevel}} {
		if l.v == 0 {
			return nil, &OptionError{Name: l.name, Value: "0", Err: ErrUnsendable,
				Want: "a capture command cannot carry level 0 (the agent reads it as unset): set it in the agent's policy file or flags, or give -1"}
		}
	}
	m := &agentv1.CaptureOptions{
		Backend:           o.Backend,
		DurationMs:        o.Duration.Milliseconds(),
		NumSteps:          o.Steps,
		HostTracerLevel:   int32(o.HostTracerLevel),
		DeviceTracerLevel: int32(o.DeviceTracerLevel),
		PythonTracerLevel: int32(o.PythonTracerLevel),
		GapPs:             o.Gap.Nanoseconds() * psPerNs,
		PadPs:             o.Pad.Nanoseconds() * psPerNs,
		KeepRaw:           o.KeepRaw,
	}
	if body != nil {
		m.Workload = &agentv1.Workload{
			Endpoint: o.WorkloadEndpoint, Method: o.WorkloadMethod, Body: body,
			Warmups: int32(o.Warmups), Requests: int32(o.Requests), Concurrency: int32(o.Concurrency), Rate: o.Rate,
		}
	}
	return m, nil
}

// FromProto returns the options m carries and its workload's body (nil
// when it has no workload). A tracer level of 0 or less is Unset, as the
// agent reads it; options m does not set are their defaults. The returned
// WorkloadBody is empty: m holds the body, not its file.
func FromProto(m *agentv1.CaptureOptions) (Options, []byte) {
	o := Defaults()
	o.Backend = m.GetBackend()
	o.Duration = time.Duration(m.GetDurationMs()) * time.Millisecond
	o.Steps = m.GetNumSteps()
	level := func(v int32) int {
		if v <= 0 {
			return Unset
		}
		return int(v)
	}
	o.HostTracerLevel = level(m.GetHostTracerLevel())
	o.DeviceTracerLevel = level(m.GetDeviceTracerLevel())
	o.PythonTracerLevel = level(m.GetPythonTracerLevel())
	o.Gap = time.Duration(m.GetGapPs() / psPerNs)
	o.Pad = time.Duration(m.GetPadPs() / psPerNs)
	o.KeepRaw = m.GetKeepRaw()
	w := m.GetWorkload()
	if w == nil {
		return o, nil
	}
	o.WorkloadEndpoint, o.WorkloadMethod = w.GetEndpoint(), w.GetMethod()
	o.Warmups, o.Requests, o.Concurrency = int(w.GetWarmups()), int(w.GetRequests()), int(w.GetConcurrency())
	o.Rate = w.GetRate()
	body := w.GetBody()
	if body == nil {
		body = []byte{}
	}
	return o, body
}
