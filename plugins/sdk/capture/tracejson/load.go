package tracejson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Loader reads events back in full from the uncompressed trace JSON that
// Walk read, by the Refs it gave. It implements capture.Loader and is safe
// for concurrent use when its io.ReaderAt is.
type Loader struct {
	r   io.ReaderAt
	fwk map[int64]string

	// What one goroutine's loads share (see Fork): the strings already
	// made, so that a repeated name or value is not allocated again, and
	// the slab the stats are carved from.
	mu   sync.Mutex
	strs map[string]string
	slab []capture.Stat
}

// SetFrameworkOps gives the loader Stats.FrameworkOps of the walk over the
// same stream: each kineto device op then gets a ops.FrameworkOpStat stat (unless
// its args hold one already).
func (l *Loader) SetFrameworkOps(m map[int64]string) { l.fwk = m }

// NewLoader returns a Loader over the uncompressed stream r.
func NewLoader(r io.ReaderAt) *Loader { return &Loader{r: r, strs: make(map[string]string)} }

// Sizes of what a Loader shares between loads.
const (
	// maxShared bounds the strings a Loader shares; longer ones are rarely
	// repeated.
	maxShared = 4096
	// slabStats is the number of stats the slab holds: the stats of a few
	// hundred events, one allocation.
	slabStats = 2048
)

// str returns b as a string, the same string each time the same bytes
// come (the caller holds mu).
func (l *Loader) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxShared {
		return string(b)
	}
	if v, ok := l.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	l.strs[v] = v
	return v
}

// text is scanner.text through str: a JSON string's contents unescaped,
// anything else as its JSON text.
func (l *Loader) text(s *scanner, b []byte, vs, ve int) (string, error) {
	if b[vs] != '"' {
		return l.str(b[vs:ve]), nil
	}
	raw := b[vs+1 : ve-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return l.str(raw), nil
	}
	v, err := s.text(b, vs, ve)
	if err != nil || len(v) > maxShared {
		return v, err
	}
	if w, ok := l.strs[v]; ok {
		return w, nil
	}
	l.strs[v] = v
	return v, nil
}

// stats returns a slice of n stats from the slab (the caller holds mu).
func (l *Loader) stats(n int) []capture.Stat {
	if n > slabStats/8 {
		return make([]capture.Stat, 0, n)
	}
	if cap(l.slab)-len(l.slab) < n {
		l.slab = make([]capture.Stat, 0, slabStats)
	}
	out := l.slab[len(l.slab) : len(l.slab) : len(l.slab)+n]
	l.slab = l.slab[:len(l.slab)+n]
	return out
}

var _ capture.Loader = (*Loader)(nil)

// Load reads the event at ref and sets ev's Name (unescaped), DisplayName
// (args.long_name, if present) and Stats: every member of args in source
// order as a StatString, strings unescaped, anything else (numbers,
// literals, objects, arrays) as its JSON text. long_name stays a stat too.
// An event's "cat" (kineto traces) comes first, as the stat ops.CatStat, and a
// kineto device op's framework op (see SetFrameworkOps) last, as
// ops.FrameworkOpStat. Start and Dur are left as they are. Repeated
// strings are shared between the events one Loader loads. Load is safe for
// concurrent use; a goroutine of its own should have a Loader of its own
// (NewLoader over the same stream), for they take turns.
func (l *Loader) Load(ref capture.Ref, ev *capture.Event) error {
	if ref.Off < 0 || ref.Len < 2 || ref.Len > DefaultMaxEventBytes {
		return fmt.Errorf("%w: offset %d, length %d", ErrBadRef, ref.Off, ref.Len)
	}
	sc := scratchPool.Get().(*loadScratch)
	defer sc.put()
	if int64(cap(sc.b)) < ref.Len {
		sc.b = make([]byte, ref.Len)
	}
	b := sc.b[:ref.Len]
	n, err := l.r.ReadAt(b, ref.Off)
	if n < len(b) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("tracejson: load event at byte %d: %w", ref.Off, err)
	}
	s := scanner{off: ref.Off, event: -1, maxDepth: DefaultMaxDepth}
	l.mu.Lock()
	defer l.mu.Unlock()
	var name, display, cat string
	var hasCat, hasFwk bool
	stats := sc.stats[:0]
	defer func() { sc.stats = stats }()
	// The event sits at depth 3 (in traceEvents, in the top-level object).
	end, err := s.members(b, 0, 3, func(key []byte, vs, ve int) error {
		switch string(key) {
		case "name":
			// As in Walk: the last name wins, and one that is not a string
			// counts as none.
			name = ""
			if b[vs] == '"' {
				var err error
				name, err = l.text(&s, b, vs, ve)
				return err
			}
		case "cat":
			if b[vs] == '"' {
				var err error
				cat, err = l.text(&s, b, vs, ve)
				hasCat = true
				return err
			}
		case "args":
			if b[vs] != '{' {
				v, err := l.text(&s, b, vs, ve)
				stats = append(stats, capture.Stat{Name: "args", Kind: capture.StatString, Str: v})
				return err
			}
			_, err := s.members(b[:ve], vs, 4, func(key []byte, vs, ve int) error {
				v, err := l.text(&s, b, vs, ve)
				if err != nil {
					return err
				}
				k := l.str(key)
				switch k {
				case "long_name":
					display = v
				case ops.FrameworkOpStat:
					hasFwk = true
				}
				stats = append(stats, capture.Stat{Name: k, Kind: capture.StatString, Str: v})
				return nil
			})
			return err
		}
		return nil
	})
	if err == errNeedMore {
		return &SyntaxError{Off: ref.Off + ref.Len, Event: -1, Err: ErrBadRef, What: "the event ends past the ref"}
	}
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) && errors.Is(se.Err, ErrMalformed) {
			se.Err = ErrBadRef
		}
		return err
	}
	if end != len(b) {
		return &SyntaxError{Off: ref.Off + int64(end), Event: -1, Err: ErrBadRef, What: "the ref holds more than one event"}
	}
	// The stats in a slice of their own size: cat first, the framework op
	// last.
	op, fwk := l.fwk[ref.Off]
	fwk = fwk && !hasFwk
	var out []capture.Stat
	if n := len(stats) + b2i(hasCat) + b2i(fwk); n > 0 {
		out = l.stats(n)
		if hasCat {
			out = append(out, capture.Stat{Name: ops.CatStat, Kind: capture.StatString, Str: cat})
		}
		out = append(out, stats...)
		if fwk {
			out = append(out, capture.Stat{Name: ops.FrameworkOpStat, Kind: capture.StatString, Str: op})
		}
	}
	ev.Name, ev.DisplayName, ev.Stats = name, display, out
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// loadScratch holds a Load's buffers between calls; the pool keeps Load
// safe for concurrent use.
type loadScratch struct {
	b     []byte
	stats []capture.Stat
}

var scratchPool = sync.Pool{New: func() any { return new(loadScratch) }}

// put returns the scratch to the pool, without what it should not keep
// alive: a large buffer, and the strings its stats point to.
func (sc *loadScratch) put() {
	if cap(sc.b) > 1<<20 {
		sc.b = nil
	}
	clear(sc.stats[:cap(sc.stats)])
	sc.stats = sc.stats[:0]
	scratchPool.Put(sc)
}
