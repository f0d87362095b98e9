package xplane

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Wire-level problems come wrapped in a
// *FormatError that says where in the file they were found.
var (
	// ErrEmpty is returned for a 0-byte file.
	ErrEmpty = errors.New("xplane: the file is empty (0 bytes); sglang-jax writes a 0-byte .xplane.pb " +
		"when the XSpace passes 2 GB: capture a shorter window, lower the host/python tracer levels, " +
		"or read the .trace.json.gz written beside it")
	// ErrMalformed is returned (inside a *FormatError) when the bytes are not
	// a valid XSpace: a bad varint, a length past the end of its message, a
	// wrong wire type for a known field, a truncated file, a negative duration.
	ErrMalformed = errors.New("xplane: malformed XSpace")
	// ErrRef is returned by Load for a Ref that does not lie inside a plane
	// of the file.
	ErrRef = errors.New("xplane: ref does not point into a plane of this file")
)

// FormatError reports malformed bytes at an offset of the file. It wraps
// ErrMalformed.
type FormatError struct {
	// Off is the byte offset in the file where the problem was found.
	Off int64
	// What says what was wrong.
	What string
}

// Error implements error.
func (e *FormatError) Error() string {
	return fmt.Sprintf("xplane: malformed XSpace at byte %d: %s (the file is damaged or truncated, or is not an .xplane.pb)", e.Off, e.What)
}

// Unwrap returns ErrMalformed.
func (e *FormatError) Unwrap() error { return ErrMalformed }

func malformed(off int64, format string, args ...any) error {
	return &FormatError{Off: off, What: fmt.Sprintf(format, args...)}
}
