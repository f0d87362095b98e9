package supervise

import "sync"

// Ring keeps the most recent lines of output, bounded by a line count and by
// each line's length.
type Ring struct {
	max     int
	maxLine int

	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// NewRing returns a ring holding up to n lines (n < 1 means 200), each cut
// to 512 bytes.
func NewRing(n int) *Ring {
	if n < 1 {
		n = 200
	}
	return &Ring{max: n, maxLine: 512, lines: make([]string, n)}
}

// Add appends a line, dropping the oldest when full.
func (r *Ring) Add(line string) {
	if len(line) > r.maxLine {
		line = line[:r.maxLine] + "…"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[r.next] = line
	r.next = (r.next + 1) % r.max
	if r.next == 0 {
		r.full = true
	}
}

// Tail returns up to n of the most recent lines, oldest first (n < 1: all).
func (r *Ring) Tail(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}
