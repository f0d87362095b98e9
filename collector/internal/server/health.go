package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// healthTimeout bounds /healthz's read of the store.
const healthTimeout = 2 * time.Second

// storeProbe reads the store for /healthz, one read at a time: a read that
// does not come back (a stuck disk, bbolt waiting for a transaction) is not
// started again by each probe, and /healthz answers after healthTimeout
// whatever the store does.
type storeProbe struct {
	db *store.DB

	// mu guards running and err.
	mu      sync.Mutex
	running chan struct{} // closed when the read in flight ends; nil if none
	err     error         // the last read's
}

// check reads the store and returns its error, or a timeout error when the
// read takes longer than timeout.
func (p *storeProbe) check(timeout time.Duration) error {
	p.mu.Lock()
	ch := p.running
	if ch == nil {
		ch = make(chan struct{})
		p.running = ch
		// Owned by the probe: it ends when the store answers (Close waits
		// for reads, so it never outlives the store).
		go func() {
			err := p.db.View(context.Background(), func(*store.Reader) error { return nil })
			p.mu.Lock()
			p.err, p.running = err, nil
			p.mu.Unlock()
			close(ch)
		}()
	}
	p.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-t.C:
		return fmt.Errorf("no answer within %s (a transaction or the disk is stuck)", timeout)
	}
}

// healthz answers 200 "ok" while the collector serves: its store answers a
// read within healthTimeout (else 503). The lines after the first say how
// the store and the backup are, so a backup waiting on a bucket that never
// answers shows here (with its call and deadline) while the collector
// stays healthy.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	code := http.StatusOK
	if err := s.probe.check(healthTimeout); err != nil {
		code = http.StatusServiceUnavailable
		b.WriteString("store unavailable\n")
		fmt.Fprintf(&b, "store: %v\n", err)
	} else {
		b.WriteString("ok\nstore: ok\n")
	}
	if bk := s.life.backup; bk != nil {
		fmt.Fprintf(&b, "backup: %s\n", bk.State())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}
