package simserver

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Line ids, as the TSL converter shows them (the trace JSON's tids).
const (
	modulesLineID = 2
	opsLineID     = 3
	waitLine1ID   = 100
	waitLine2ID   = 101
	schedLineID   = 102
)

// Profile is the ground truth of a profile the server wrote: what a correct
// reader must find in its files.
type Profile struct {
	// Dir is the run folder written, "" when the XSpace went back inline.
	Dir string
	// Files are the files written, in Dir or the profiler service's
	// repository.
	Files []string
	// Host is the host name the files are named after (before ':' became '_').
	Host string
	// BaseNS is the profile's start in nanoseconds since the epoch; every
	// time below is in picoseconds relative to it.
	BaseNS int64
	// Span is the profile, from its start to its stop.
	Span capture.Interval
	// Steps are the forward steps recorded, in order.
	Steps []Step
	// Devices are the device planes written, in order (none when device
	// tracing was off).
	Devices []DeviceTruth
	// HostEvents counts the events of the /host:CPU plane.
	HostEvents int64
	// EventsTotal counts every event written.
	EventsTotal int64
	// DroppedSteps counts steps past the profile's event bound, not written.
	DroppedSteps int
	// Levels are the tracer levels the profile honoured.
	HostLevel, DeviceLevel, PythonLevel int
}

// Step is one recorded forward step.
type Step struct {
	// Seq numbers the step since the server started.
	Seq int64
	// Kind is "prefill" or "decode".
	Kind string
	// Start and End bound the step on the host (run_batch).
	Start, End int64
	// Burst is the first device's op burst, from its first op's start to its
	// last op's end.
	Burst capture.Interval
}

// DeviceTruth is what one device plane holds.
type DeviceTruth struct {
	// Plane is the plane's name, e.g. "/device:TPU:0".
	Plane string
	// OpEvents counts the events of its XLA Ops line.
	OpEvents int64
	// Busy is the length of the union of its op intervals (ps).
	Busy int64
	// OpTotal is the summed duration of its op events (ps).
	OpTotal int64
	// Modules counts the events of its XLA Modules line.
	Modules int64
}

// DeviceOpEvents sums the op events over every device.
func (p *Profile) DeviceOpEvents() int64 {
	var n int64
	for _, d := range p.Devices {
		n += d.OpEvents
	}
	return n
}

// build turns a stopped session into the capture the profiler would write,
// and its ground truth.
func (s *Server) build(sess *session, stop time.Time, host string) (*capture.Capture, *Profile) {
	base := sess.start.UnixNano()
	rel := func(t time.Time) int64 { return (t.UnixNano() - base) * capture.Nanosecond }
	end := max(rel(stop), 0)
	p := &Profile{
		Host:         host,
		BaseNS:       base,
		DroppedSteps: sess.dropped,
		HostLevel:    sess.levels.host,
		DeviceLevel:  sess.levels.device,
		PythonLevel:  sess.levels.python,
	}
	type laidStep struct {
		rec   stepRec
		t0    int64
		ops   []placedOp
		burst int64
		len   int64
	}
	steps := make([]laidStep, len(sess.steps))
	for i, st := range sess.steps {
		ops, n := s.ops.burst(s.cfg.Seed, st.seq, st.kind, st.shape)
		ls := laidStep{rec: st, t0: rel(st.start), ops: ops, burst: n}
		ls.len = hostBefore + n + int64(s.cfg.Devices-1)*deviceSkew + hostAfter
		end = max(end, ls.t0+ls.len)
		steps[i] = ls
		p.Steps = append(p.Steps, Step{
			Seq: st.seq, Kind: st.kind.String(), Start: ls.t0, End: ls.t0 + ls.len,
			Burst: capture.Interval{Start: ls.t0 + hostBefore, End: ls.t0 + hostBefore + n},
		})
	}
	p.Span = capture.Interval{Start: 0, End: end}
	// The XSpace records the session as real JAX does, in the Task
	// Environment plane's profile_start_time and profile_stop_time.
	c := &capture.Capture{BaseNS: base, Span: p.Span, Windows: []capture.Interval{p.Span},
		Session: capture.Interval{Start: 0, End: max(rel(stop), 1)}}
	if sess.dropped > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("profile event bound reached: %d forward steps not traced", sess.dropped))
	}

	if sess.levels.device >= 1 {
		// Each op's stats are shared by all its events: writers only read them.
		opStats := make([][]capture.Stat, len(s.ops.ops))
		opDisplay := make([]string, len(s.ops.ops))
		for i := range s.ops.ops {
			o := &s.ops.ops[i]
			st := []capture.Stat{{Name: "hlo_category", Str: o.category}}
			if tf := o.tfOp(); tf != "" {
				st = append(st, capture.Stat{Name: "tf_op", Str: tf})
			}
			opStats[i] = st
			opDisplay[i] = "%" + o.name + " = ..."
		}
		for d := range s.cfg.Devices {
			plane := &capture.Plane{ID: int64(d), Name: "/device:TPU:" + strconv.Itoa(d)}
			mods := &capture.Line{ID: modulesLineID, Name: "XLA Modules"}
			ops := &capture.Line{ID: opsLineID, Name: "XLA Ops"}
			var busy []capture.Interval
			dt := DeviceTruth{Plane: plane.Name}
			for _, ls := range steps {
				start := ls.t0 + hostBefore + int64(d)*deviceSkew
				mods.Events = append(mods.Events, capture.Event{
					Name:  moduleName(ls.rec.kind),
					Start: start,
					Dur:   ls.burst,
					Stats: []capture.Stat{{Name: "run_id", Kind: capture.StatInt, Int: ls.rec.seq}},
				})
				for _, po := range ls.ops {
					ev := capture.Event{
						Name:        s.ops.ops[po.op].name,
						DisplayName: opDisplay[po.op],
						Start:       start + po.off,
						Dur:         po.dur,
						Stats:       opStats[po.op],
					}
					ops.Events = append(ops.Events, ev)
					busy = append(busy, ev.Interval())
					dt.OpTotal += po.dur
				}
			}
			sortEvents(ops.Events)
			dt.OpEvents = int64(len(ops.Events))
			dt.Modules = int64(len(mods.Events))
			dt.Busy = capture.TotalLen(capture.Union(busy))
			plane.Lines = []*capture.Line{mods, ops}
			c.Planes = append(c.Planes, plane)
			p.Devices = append(p.Devices, dt)
			p.EventsTotal += dt.OpEvents + dt.Modules
		}
	}

	if sess.levels.host >= 1 || sess.levels.python >= 1 {
		hp := &capture.Plane{ID: int64(s.cfg.Devices), Name: capture.HostPlaneName}
		sched := &capture.Line{ID: schedLineID, Name: "python3"}
		if sess.levels.python >= 1 {
			w1 := &capture.Line{ID: waitLine1ID, Name: "Thread-1",
				Events: []capture.Event{{Name: "$threading.py:637 wait", Start: 0, Dur: end}}}
			w2 := &capture.Line{ID: waitLine2ID, Name: "Thread-2",
				Events: []capture.Event{{Name: "$threading.py:323 wait", Start: 0, Dur: end}}}
			hp.Lines = append(hp.Lines, w1, w2)
			busy := make([]capture.Interval, len(steps))
			for i, ls := range steps {
				busy[i] = capture.Interval{Start: ls.t0, End: ls.t0 + ls.len}
			}
			sched.Events = appendIdleLoop(sched.Events, end, busy)
		}
		for _, ls := range steps {
			sched.Events = appendStepHost(sched.Events, sess.levels, ls.t0, ls.len,
				hostBefore+ls.burst+int64(s.cfg.Devices-1)*deviceSkew, ls.rec)
		}
		sortEvents(sched.Events)
		hp.Lines = append(hp.Lines, sched)
		c.Planes = append(c.Planes, hp)
		for _, l := range hp.Lines {
			p.HostEvents += int64(len(l.Events))
		}
		p.EventsTotal += p.HostEvents
	}
	c.EventsTotal = p.EventsTotal
	return c, p
}

// moduleName is the XLA module a step runs.
func moduleName(k stepKind) string {
	if k == decode {
		return "jit_jitted_run_model(2)"
	}
	return "jit_jitted_run_model(1)"
}

// sortEvents orders a line's events by start, longest first.
func sortEvents(evs []capture.Event) {
	slices.SortStableFunc(evs, func(a, b capture.Event) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return cmp.Compare(b.Dur, a.Dur)
	})
}
