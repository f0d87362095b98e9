package uplink

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// verdict is what the uploader does after an attempt failed.
type verdict int

const (
	// retryCapture backs off this capture and goes on with the others.
	retryCapture verdict = iota
	// retryAll backs off every upload: the collector takes none now.
	retryAll
	// reject moves the capture to the rejected folder: it will never be
	// taken as it is.
	reject
)

// classify decides what a failed upload of capture id means, and for a
// rejection names its reason (the metric's label).
//
// Refused for good: InvalidArgument (a capture that does not parse, is
// larger than the collector takes, or breaks the protocol), PermissionDenied
// (a capture id bound to another agent), OutOfRange, and a spool file that
// no longer matches its SHA-256 (checked before the first attempt, and
// again when the collector answers DataLoss). Every upload backs off on
// Unavailable, ResourceExhausted (the collector busy or out of storage),
// Unauthenticated and Unimplemented. Anything else (Internal, Unknown,
// FailedPrecondition, DeadlineExceeded, Aborted, a stalled or cut stream)
// is retried for this capture with its own backoff.
func (c *Client) classify(id string, err error) (verdict, string) {
	if errors.Is(err, spool.ErrCorrupt) {
		return reject, "corrupt"
	}
	switch code := status.Code(err); code {
	case codes.InvalidArgument, codes.PermissionDenied, codes.OutOfRange:
		return reject, snake(code)
	case codes.DataLoss:
		// The collector got other bytes than the sidecar's hash: if the
		// file changed on disk it never will match.
		c.setVerified(id, false)
		if verr := c.opts.Spool.Verify(id); errors.Is(verr, spool.ErrCorrupt) {
			return reject, "corrupt"
		}
		return retryCapture, ""
	case codes.Unavailable, codes.ResourceExhausted, codes.Unauthenticated, codes.Unimplemented:
		return retryAll, ""
	}
	return retryCapture, ""
}

// reject moves a capture to the spool's rejected folder and reports it: a
// log line, the metric, a FAILED progress with the reason (the collector
// shows it as the fleet capture's result for this agent) and OnRejected.
func (c *Client) reject(m spool.Meta, err error, label string) {
	why := rejection(err)
	if label == "corrupt" {
		if verr := c.opts.Spool.Verify(m.CaptureID); verr != nil && !errors.Is(err, spool.ErrCorrupt) {
			err = verr
		}
		why = "its spool file is corrupt: " + errText(err)
	}
	c.setVerified(m.CaptureID, false)
	path, rerr := c.opts.Spool.Reject(m.CaptureID, why)
	if errors.Is(rerr, spool.ErrNotFound) {
		return // committed or dropped meanwhile
	}
	if rerr != nil {
		// Not moved: it stays pending and is tried again later.
		c.log.Error("move a rejected capture to the rejected folder", "capture_id", m.CaptureID, "reason", why, "err", rerr)
		return
	}
	c.opts.Metrics.Rejected(label)
	c.log.Warn("capture rejected: moved to the spool's rejected folder; going on with the next", "capture_id", m.CaptureID,
		"reason", why, "path", path)
	c.Progress(&agentv1.CaptureProgress{CaptureId: m.CaptureID, State: agentv1.CaptureState_CAPTURE_STATE_FAILED,
		Message: "upload rejected: " + why + " (kept on the agent in " + path + ")", Checks: m.Checks,
		CaptureBytes: m.Bytes, RawBytes: m.RawBytes})
	if c.opts.OnRejected != nil {
		c.opts.OnRejected(m, why)
	}
}

// rejection says why the collector refused a capture, in its own words.
func rejection(err error) string {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		st := se.GRPCStatus()
		return "the collector refused it (" + st.Code().String() + "): " + st.Message()
	}
	return errText(err)
}

// errText is err's text without the upload's own prefixes.
func errText(err error) string {
	s := err.Error()
	if i := strings.Index(s, "spool: "); i >= 0 {
		return s[i:]
	}
	return s
}

// snake is a status code's name in snake case (a metric label).
func snake(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isVerified reports whether this process checked id's spool file.
func (c *Client) isVerified(id string) bool {
	c.verifiedMu.Lock()
	defer c.verifiedMu.Unlock()
	return c.verified[id]
}

// setVerified records (or forgets) that id's spool file was checked.
func (c *Client) setVerified(id string, ok bool) {
	c.verifiedMu.Lock()
	defer c.verifiedMu.Unlock()
	if ok {
		c.verified[id] = true
	} else {
		delete(c.verified, id)
	}
}
