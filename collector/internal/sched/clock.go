package sched

import "time"

// Clock is the scheduler's time: the real one, or a fake in tests.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock, in UTC: cron specs are read in UTC unless
// they start with CRON_TZ=.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now().UTC() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
