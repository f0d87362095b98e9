package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for the deadlines of calls to Cloud Storage.
const (
	// DefaultCallTimeout bounds each call (a listing, a small object, the
	// fixed part of a large one's).
	DefaultCallTimeout = time.Minute
	// DefaultMinRate is the slowest transfer, in bytes per second, a call
	// moving an object is given time for on top of the call timeout.
	DefaultMinRate = 1 << 20
)

// callDeadline is how long a call moving n bytes may take.
func callDeadline(timeout time.Duration, minRate float64, n int64) time.Duration {
	return timeout + time.Duration(float64(n)/minRate*float64(time.Second))
}

// Call is one call to Cloud Storage in progress.
type Call struct {
	// What says what the call does, e.g. "upload gs://b/p/snapshots/x.db".
	What string
	// Since is when it started; Deadline is when it is abandoned.
	Since, Deadline time.Time
}

// State is what the backup is doing and how it last went, for /healthz
// and people: a call to the bucket that never answers shows here, with its
// deadline, while the collector serves on.
type State struct {
	// Calls are the calls in progress, oldest first.
	Calls []Call
	// LastError is the last failed call's error, and LastErrorAt its time
	// (zero if none failed).
	LastError   string
	LastErrorAt time.Time
	// LastSuccess is when a call last succeeded (zero if none did).
	LastSuccess time.Time
	// LastSnapshot is when the last database snapshot was uploaded.
	LastSnapshot time.Time
}

// String is the state in one line.
func (s State) String() string {
	now := time.Now()
	var b strings.Builder
	switch {
	case len(s.Calls) == 0:
		b.WriteString("idle")
	default:
		c := s.Calls[0]
		fmt.Fprintf(&b, "waiting %s on %s (abandoned in %s)", now.Sub(c.Since).Round(time.Second), c.What, max(0, c.Deadline.Sub(now)).Round(time.Second))
		if len(s.Calls) > 1 {
			fmt.Fprintf(&b, " and %d more call(s)", len(s.Calls)-1)
		}
	}
	if !s.LastErrorAt.IsZero() && s.LastErrorAt.After(s.LastSuccess) {
		fmt.Fprintf(&b, "; last call failed %s ago: %s", now.Sub(s.LastErrorAt).Round(time.Second), s.LastError)
	}
	if !s.LastSnapshot.IsZero() {
		fmt.Fprintf(&b, "; last snapshot %s ago", now.Sub(s.LastSnapshot).Round(time.Second))
	}
	return b.String()
}

// calls tracks the calls in progress and their outcome.
type calls struct {
	// mu guards the fields below.
	mu           sync.Mutex
	open         map[*Call]bool
	lastErr      string
	lastErrAt    time.Time
	lastOK       time.Time
	lastSnapshot time.Time
}

// start records a call starting and returns ctx bounded by its deadline
// (timeout, plus n bytes at minRate) and the func to call with its
// outcome, which releases the context.
func (c *calls) start(ctx context.Context, what string, timeout time.Duration, minRate float64, n int64) (context.Context, func(error) error) {
	d := callDeadline(timeout, minRate, n)
	now := time.Now()
	call := &Call{What: what, Since: now, Deadline: now.Add(d)}
	c.mu.Lock()
	if c.open == nil {
		c.open = map[*Call]bool{}
	}
	c.open[call] = true
	c.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, d)
	return cctx, func(err error) error {
		timedOut := cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.open, call)
		switch {
		case err == nil:
			c.lastOK = time.Now()
		case ctx.Err() != nil:
			// The collector is stopping: not the bucket's fault.
		default:
			if timedOut {
				err = fmt.Errorf("no answer within %s: %w", d.Round(time.Millisecond), err)
			}
			c.lastErr, c.lastErrAt = shorten(what+": "+err.Error(), 300), time.Now()
		}
		return err
	}
}

// snapshotted records a snapshot uploaded.
func (c *calls) snapshotted(t time.Time) {
	c.mu.Lock()
	c.lastSnapshot = t
	c.mu.Unlock()
}

// state returns the state now.
func (c *calls) state() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{LastError: c.lastErr, LastErrorAt: c.lastErrAt, LastSuccess: c.lastOK, LastSnapshot: c.lastSnapshot}
	for call := range c.open {
		s.Calls = append(s.Calls, *call)
	}
	slices.SortFunc(s.Calls, func(a, b Call) int { return a.Since.Compare(b.Since) })
	return s
}

// oldest returns how long the oldest call in progress has run, 0 if none.
func (c *calls) oldest() time.Duration {
	s := c.state()
	if len(s.Calls) == 0 {
		return 0
	}
	return time.Since(s.Calls[0].Since)
}

// State returns what the backup is doing: its calls to the bucket in
// progress, the last error and the last snapshot.
func (b *Backup) State() State { return b.calls.state() }

// call starts a call to the bucket moving n bytes (0 for none): ctx
// bounded by its deadline, and the func to finish it with.
func (b *Backup) call(ctx context.Context, what string, n int64) (context.Context, func(error) error) {
	return b.calls.start(ctx, what, b.cfg.CallTimeout, b.cfg.MinRate, n)
}
