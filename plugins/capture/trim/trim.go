// Package trim cuts a capture down to its non-idle windows.
//
// It works in two passes over a source that a reader walks once. The first
// pass (an Indexer, which is a capture.Visitor) notes each event's place,
// times, name, self time (nesting the events of each line as they come) and
// where it lies in the source, as compact records in a Spill, while it
// gathers the span, each device's op intervals and each name's count and
// times. The second pass (Finish) builds the windows, reads back only the
// records that may meet them (records come in chunks that know the time
// they cover), keeps the events that meet a window — loading them in full
// from the source — and takes them out of the sums of what was dropped.
//
// Memory grows with what is kept and with the number of distinct names, not
// with the source: the records sit in the Spill (a temporary file in
// practice). Lines whose events do not arrive in time order are the one
// exception: their records are sorted in memory.
package trim

import (
	"errors"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Errors.
var (
	// ErrEmpty means the source had no events at all.
	ErrEmpty = errors.New("trim: the capture has no events")
	// ErrNoDevicePlane means no plane is a device's: the profiler recorded
	// host events only. Finish returns it bare; CheckDevice wraps it in a
	// *NoDeviceError that says which kind of trace it is and what would have
	// captured device work.
	ErrNoDevicePlane = errors.New("trim: no device plane: the trace holds host events only")
	// ErrNoDeviceOps means device planes exist but hold no op events. As
	// with ErrNoDevicePlane, CheckDevice says more.
	ErrNoDeviceOps = errors.New("trim: no device op events: the device planes hold no ops")
	// ErrBadRecord means the spill returned something the indexer did not write.
	ErrBadRecord = errors.New("trim: corrupt index record in spill")
	// ErrBadOptions means Options hold a value that makes no sense.
	ErrBadOptions = errors.New("trim: bad options")
)

// EventCaps are the event counts at which the profiler's cap probably cut the
// trace short: the remote capture client asks for at most 1,000,000 events and
// the converter stops at 5,000,000.
var eventCaps = [...]int64{1_000_000, 5_000_000}

// Options tune trimming. The zero value uses the defaults.
type Options struct {
	// Gap merges busy stretches closer than this, in picoseconds.
	// Zero means capture.DefaultGap (1 ms); negative means no merging.
	Gap int64
	// Pad widens each window on both sides, in picoseconds.
	// Zero means capture.DefaultPad (100 µs); negative means no pad.
	Pad int64
	// AllowNoDevice returns a capture with no windows (every event dropped and
	// summarised) instead of ErrNoDevicePlane or ErrNoDeviceOps.
	AllowNoDevice bool
	// Spill holds the first pass's records. Nil keeps them in memory.
	Spill Spill
	// SessionNS is the profiling session as whoever started the profiler
	// knows it (the agent), in nanoseconds since the epoch: [start, end].
	// It is used when the source records no session of its own. Zero means
	// unknown.
	SessionNS [2]int64
}

func (o Options) gap() int64 {
	switch {
	case o.Gap == 0:
		return capture.DefaultGap
	case o.Gap < 0:
		return 0
	}
	return o.Gap
}

func (o Options) pad() int64 {
	switch {
	case o.Pad == 0:
		return capture.DefaultPad
	case o.Pad < 0:
		return 0
	}
	return o.Pad
}

// Result adds to a capture what only trimming knows.
type Result struct {
	// Capture is the trimmed capture.
	Capture *capture.Capture
	// UnsortedLines counts lines whose events came out of time order.
	UnsortedLines int
	// SpillBytes is the size of the first pass's records.
	SpillBytes int64
}

func warnCap(total int64) string {
	for _, c := range eventCaps {
		if total == c {
			return fmt.Sprintf("the trace holds exactly %d events: the profiler's event cap probably cut it short; capture a shorter stretch or lower the tracer levels", c)
		}
	}
	return ""
}
