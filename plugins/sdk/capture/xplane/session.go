package xplane

import (
	"math"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// The plane and stats in which the TSL profiler records its session.
const (
	// TaskEnvPlane is the name of the plane that holds the profiling
	// session's stats.
	TaskEnvPlane = "Task Environment"
	// StartTimeStat is the stat of TaskEnvPlane with the session's start,
	// in nanoseconds since the epoch.
	StartTimeStat = "profile_start_time"
	// StopTimeStat is the stat of TaskEnvPlane with the session's stop, in
	// nanoseconds since the epoch.
	StopTimeStat = "profile_stop_time"
)

// SessionNS returns the profiling session the file records, in nanoseconds
// since the epoch: the profile_start_time and profile_stop_time stats of the
// first plane named "Task Environment" that has both, as real JAX and
// TensorFlow write them (uint64 values; int64 is taken too). ok is false
// when no plane records a session or it ends before it starts.
func (f *File) SessionNS() (start, stop int64, ok bool) {
	for _, p := range f.planes {
		if p.name != TaskEnvPlane {
			continue
		}
		var haveStart, haveStop bool
		for _, s := range p.stats {
			v, vok := statNS(s)
			if !vok {
				continue
			}
			switch s.Name {
			case StartTimeStat:
				start, haveStart = v, true
			case StopTimeStat:
				stop, haveStop = v, true
			}
		}
		if haveStart && haveStop && stop > start {
			return start, stop, true
		}
	}
	return 0, 0, false
}

// statNS reads a stat holding nanoseconds since the epoch.
func statNS(s capture.Stat) (int64, bool) {
	switch s.Kind {
	case capture.StatUint:
		if s.Uint > math.MaxInt64 {
			return 0, false
		}
		return int64(s.Uint), true
	case capture.StatInt:
		return s.Int, s.Int >= 0
	}
	return 0, false
}

// session returns the file's session in picoseconds relative to the base,
// and whether it is known and representable. A session too far from the
// base for int64 picoseconds cannot overlap the events (whose times are),
// which happens when a converter rebased the event times (real JAX GPU and
// TPU files in xprof's test data do): it is left out.
func (f *File) session() (start, end int64, ok bool) {
	s, e, ok := f.SessionNS()
	if !ok {
		return 0, 0, false
	}
	rs, ok1 := sub(s, f.base)
	re, ok2 := sub(e, f.base)
	const lim = math.MaxInt64 / 1000
	if !ok1 || !ok2 || rs > lim || rs < -lim || re > lim || re < -lim {
		return 0, 0, false
	}
	return rs * capture.Nanosecond, re * capture.Nanosecond, true
}
