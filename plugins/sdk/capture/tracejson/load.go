package tracejson

import (
	"errors"
	"fmt"
	"io"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Loader reads events back in full from the uncompressed trace JSON that
// Walk read, by the Refs it gave. It implements capture.Loader and is safe
// for concurrent use when its io.ReaderAt is.
type Loader struct {
	r io.ReaderAt
}

// NewLoader returns a Loader over the uncompressed stream r.
func NewLoader(r io.ReaderAt) *Loader { return &Loader{r: r} }

var _ capture.Loader = (*Loader)(nil)

// Load reads the event at ref and sets ev's Name (unescaped), DisplayName
// (args.long_name, if present) and Stats: every member of args in source
// order as a StatString, strings unescaped, anything else (numbers,
// literals, objects, arrays) as its JSON text. long_name stays a stat too.
// Start and Dur are left as they are.
func (l *Loader) Load(ref capture.Ref, ev *capture.Event) error {
	if ref.Off < 0 || ref.Len < 2 || ref.Len > DefaultMaxEventBytes {
		return fmt.Errorf("%w: offset %d, length %d", ErrBadRef, ref.Off, ref.Len)
	}
	b := make([]byte, ref.Len)
	n, err := l.r.ReadAt(b, ref.Off)
	if n < len(b) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("tracejson: load event at byte %d: %w", ref.Off, err)
	}
	s := scanner{off: ref.Off, event: -1, maxDepth: DefaultMaxDepth}
	var name, display string
	var stats []capture.Stat
	// The event sits at depth 3 (in traceEvents, in the top-level object).
	end, err := s.members(b, 0, 3, func(key []byte, vs, ve int) error {
		switch string(key) {
		case "name":
			// As in Walk: the last name wins, and one that is not a string
			// counts as none.
			name = ""
			if b[vs] == '"' {
				var err error
				name, err = s.text(b, vs, ve)
				return err
			}
		case "args":
			if b[vs] != '{' {
				v, err := s.text(b, vs, ve)
				stats = append(stats, capture.Stat{Name: "args", Kind: capture.StatString, Str: v})
				return err
			}
			_, err := s.members(b[:ve], vs, 4, func(key []byte, vs, ve int) error {
				v, err := s.text(b, vs, ve)
				if err != nil {
					return err
				}
				k := string(key)
				if k == "long_name" {
					display = v
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
	ev.Name, ev.DisplayName, ev.Stats = name, display, stats
	return nil
}
