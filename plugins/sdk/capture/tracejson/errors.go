package tracejson

import (
	"errors"
	"strconv"
)

// Errors. Syntax problems, bad times, deep nesting and oversized events come
// wrapped in a *SyntaxError that says where they are; check them with
// errors.Is.
var (
	// ErrEmpty means the stream holds no JSON at all (0 bytes or only
	// whitespace).
	ErrEmpty = errors.New("tracejson: the trace is empty: the profiler wrote no JSON; check its log and capture again")
	// ErrMalformed means the stream is not the JSON it should be: a bad
	// token, an unterminated string, or an unexpected end of input.
	ErrMalformed = errors.New("tracejson: malformed JSON")
	// ErrNoTraceEvents means the top-level object has no "traceEvents" array:
	// the file is JSON but not a Chrome trace.
	ErrNoTraceEvents = errors.New(`tracejson: no "traceEvents" array: the file is JSON but not a Chrome trace (expected {"traceEvents":[...]})`)
	// ErrTooDeep means objects or arrays nest deeper than WalkOptions.MaxDepth.
	ErrTooDeep = errors.New("tracejson: JSON nests too deep")
	// ErrTooLarge means one event (or one top-level key) is larger than
	// WalkOptions.MaxEventBytes.
	ErrTooLarge = errors.New("tracejson: event too large")
	// ErrBadTime means an event's ts or dur is missing, negative, not a
	// number, or out of range.
	ErrBadTime = errors.New("tracejson: bad event time")
	// ErrBadRef means Loader.Load was given a Ref that does not hold one
	// whole event.
	ErrBadRef = errors.New("tracejson: ref does not hold an event")
)

// SyntaxError says where in the stream a problem is. Err is one of the
// package's sentinels (ErrMalformed, ErrBadTime, ErrTooDeep, ErrTooLarge).
type SyntaxError struct {
	// Off is the byte offset of the problem in the uncompressed stream.
	Off int64
	// Event is the index of the event in the traceEvents array, or -1
	// outside it.
	Event int
	// What says what was wrong.
	What string
	// Truncated is set when the input ended early.
	Truncated bool
	// Err is the kind of problem.
	Err error
}

// Error implements error.
func (e *SyntaxError) Error() string {
	s := e.Err.Error() + ": " + e.What + " at byte " + strconv.FormatInt(e.Off, 10)
	if e.Event >= 0 {
		s += " (event " + strconv.Itoa(e.Event) + ")"
	}
	if e.Truncated {
		s += ": the file is truncated (copy it again, or wait until the profiler has finished writing it)"
	}
	return s
}

// Unwrap returns the kind of problem.
func (e *SyntaxError) Unwrap() error { return e.Err }

// errNeedMore is the scanners' internal signal that the buffer ended before
// the item did; it never leaves the package.
var errNeedMore = errors.New("tracejson: need more input")
