package sdk

import "errors"

// Errors of the host–plugin exchange. A host sees them wrapped, with the
// plugin's own words after the colon.
var (
	// ErrProtocol means a peer broke the Analyze stream's contract: options
	// not first, an empty message, records out of order, a version mismatch.
	ErrProtocol = errors.New("sdk: plugin protocol violated")
	// ErrInvalidInfo means an analyzer's Info is unusable (a name that is
	// not lower snake case, say).
	ErrInvalidInfo = errors.New("sdk: invalid analyzer info")
	// ErrInvalidSection means an analyzer returned a section that cannot be
	// reported: a NaN, an unsupported row value, an unknown chart kind.
	ErrInvalidSection = errors.New("sdk: invalid section")
	// ErrAnalyzer means the analyzer returned an error (or panicked); the
	// text after it is the analyzer's, written for the report's reader.
	ErrAnalyzer = errors.New("sdk: analyzer failed")
	// ErrUnavailable means the plugin stopped answering: it exited or
	// crashed, or its connection broke.
	ErrUnavailable = errors.New("sdk: plugin unavailable (did it exit or crash?)")
	// ErrCaptureLimit means the capture costs more to decode than the
	// plugin's limits allow (fpcap.Limits, passed by the host in
	// LimitsEnv): it was refused before being decoded.
	ErrCaptureLimit = errors.New("sdk: capture exceeds the plugin's decoding limits")
	// ErrRecordTooLarge means one capture record is larger than
	// MaxMessageBytes allows and cannot be sent.
	ErrRecordTooLarge = errors.New("sdk: capture record too large to send")
)
