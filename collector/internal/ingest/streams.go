package ingest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// slots counts the upload streams served: in all, and per agent identity.
// A stream takes its agent's slot before the global one, so one agent at
// its own cap never holds global slots the others need.
type slots struct {
	max, perAgent int

	// mu guards total and byAgent.
	mu      sync.Mutex
	total   int
	byAgent map[string]int
}

func newSlots(max, perAgent int) *slots {
	return &slots{max: max, perAgent: perAgent, byAgent: map[string]int{}}
}

// takeAgent takes one of agent's slots, or returns ErrAgentBusy.
func (s *slots) takeAgent(agent string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAgent[agent] >= s.perAgent {
		return fmt.Errorf("%w (agent %q has %d upload streams open)", ErrAgentBusy, agent, s.byAgent[agent])
	}
	s.byAgent[agent]++
	return nil
}

// giveAgent returns one of agent's slots.
func (s *slots) giveAgent(agent string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byAgent[agent]--; s.byAgent[agent] <= 0 {
		delete(s.byAgent, agent)
	}
}

// take takes a global slot, or returns ErrBusy.
func (s *slots) take() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.max {
		return fmt.Errorf("%w (%d uploads in progress)", ErrBusy, s.total)
	}
	s.total++
	return nil
}

// give returns a global slot.
func (s *slots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
}

// open returns the streams served now.
func (s *slots) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// received is one Recv's result.
type received struct {
	m   *agentv1.UploadRequest
	err error
}

// receiver reads a stream on its own goroutine, so that the handler can
// wait for the next message with a deadline: gRPC's Recv cannot be
// interrupted, but the handler can return, which ends the stream and so
// the Recv. Recv is called only when the handler asks for the next message,
// so messages are read in step with the handler's answers, as if it called
// Recv itself. The goroutine belongs to the Ingest (Run waits for it).
type receiver struct {
	want   chan struct{}
	msgs   chan received
	stop   chan struct{}
	exited chan struct{} // closed when the goroutine returns
	timer  *time.Timer
}

// receive starts reading stream; call close when the handler is done.
func (in *Ingest) receive(stream UploadStream) *receiver {
	r := &receiver{want: make(chan struct{}), msgs: make(chan received), stop: make(chan struct{}), exited: make(chan struct{})}
	in.readers.Add(1)
	go func() {
		defer in.readers.Done()
		defer close(r.exited)
		for {
			select {
			case <-r.want:
			case <-r.stop:
				return
			}
			m, err := stream.Recv()
			select {
			case r.msgs <- received{m, err}:
			case <-r.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// next returns the stream's next message, or late when none comes within
// d. After an error the stream is done, and next returns io.EOF.
func (r *receiver) next(ctx context.Context, d time.Duration, late error) (*agentv1.UploadRequest, error) {
	select {
	case r.want <- struct{}{}:
	case <-r.exited:
		return nil, io.EOF
	}
	if r.timer == nil {
		r.timer = time.NewTimer(d)
	} else {
		r.timer.Reset(d)
	}
	defer r.timer.Stop()
	select {
	case x := <-r.msgs:
		return x.m, x.err
	case <-r.timer.C:
		return nil, late
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close lets the reading goroutine go once its Recv returns.
func (r *receiver) close() { close(r.stop) }

// quiet lets one log line per key through per interval and counts the
// ones it holds back, so a client repeating a refused upload cannot flood
// the log (the metrics count every refusal).
type quiet struct {
	every time.Duration

	// mu guards last and held.
	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newQuiet(every time.Duration) *quiet {
	return &quiet{every: every, last: map[string]time.Time{}, held: map[string]int{}}
}

// allow reports whether a line for key may be logged now and, if so, how
// many were held back since the last one.
func (q *quiet) allow(key string) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if now.Sub(q.last[key]) < q.every {
		q.held[key]++
		return 0, false
	}
	n := q.held[key]
	q.last[key], q.held[key] = now, 0
	return n, true
}
