// Package tracejson reads the Chrome trace JSON that the TSL profiler
// converter writes: *.trace.json, *.trace.json.gz, and jax's
// perfetto_trace.json.gz (the same without "metadata").
//
// Walk streams the uncompressed JSON once, handing each complete ("X") event
// to a capture.Visitor with its name, exact times and the byte range it
// occupies, without building objects; a Loader reads any event back in full
// from that range. (fleetprof's writer of trace JSON, which marks the idle
// stretches trimming removed, is not part of the SDK.)
//
// Times are decimal microseconds with up to six decimals; they are parsed
// from their text into integer picoseconds, never through float64 (a 2026
// timestamp has 22 significant digits).
package tracejson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Defaults for WalkOptions.
const (
	DefaultBufferSize    = 1 << 20
	DefaultMaxEventBytes = 64 << 20
	DefaultMaxDepth      = 64
	maxMaxDepth          = 4096
)

// SkipProcess is the name of the process whose events Walk skips: the one
// on which fleetprof marks the idle stretches trimming removed. The
// profiling session fleetprof records there (an X event whose cat is
// "Trace") is still taken as the session.
const SkipProcess = "fleetprof"

// WalkOptions tune Walk. The zero value works.
type WalkOptions struct {
	// BufferSize is the size of the blocks read from the stream. Zero means
	// DefaultBufferSize (1 MiB).
	BufferSize int
	// MaxEventBytes bounds one event, and one top-level key, in bytes. Zero
	// means DefaultMaxEventBytes (64 MiB). With a BlockReader it bounds the
	// unread bytes carried from one block to the next.
	MaxEventBytes int
	// MaxDepth bounds the nesting of objects and arrays, the top-level
	// object counting as 1. Zero means DefaultMaxDepth (64); it is at most
	// 4096.
	MaxDepth int
	// AllowTruncated makes a stream that ends early (inside the traceEvents
	// array or after it) end the walk without an error after the last whole
	// event; Stats.Complete is then false.
	AllowTruncated bool
}

// Stats says what Walk met.
type Stats struct {
	// Events counts the objects of the traceEvents array, the trailing {}
	// included.
	Events int64
	// Phases counts events by phase ("X", "M", "i", ...). Objects without a
	// phase (the trailing {}) are not counted.
	Phases map[string]int64
	// X counts the complete events handed to the Visitor.
	X int64
	// Skipped counts the complete events of the skipped process
	// (SkipProcess).
	Skipped int64
	// LateMetadata counts M events that renamed a process or thread after
	// it was declared (after its first event, or after the first X event of
	// the trace); the name declared first stays.
	LateMetadata int64
	// Bytes counts the bytes read from the stream.
	Bytes int64
	// Complete is set when the traceEvents array and the document ended
	// properly.
	Complete bool
	// Kineto is set when the trace is a PyTorch profiler (kineto) trace,
	// read by kineto's conventions (see the package doc).
	Kineto bool
	// FrameworkOps holds, for a kineto trace, the framework op that
	// launched each device op, by the device op's Ref.Off; give it to
	// Loader.SetFrameworkOps.
	FrameworkOps map[int64]string
}

// BlockReader is an io.Reader that can hand Walk its data a block at a
// time, without the copy Read makes (a decompressor's output blocks, say).
// Walk calls ReadBlock instead of Read when its reader has it.
type BlockReader interface {
	io.Reader
	// ReadBlock returns keep — the unread end of the slice it returned
	// last, which Walk still needs — followed by the next bytes of the
	// stream, in one slice that stays valid until the next call. The call
	// may release the memory keep lies in: the result holds its bytes. At
	// the end of the stream it returns keep's bytes and io.EOF.
	ReadBlock(keep []byte) ([]byte, error)
}

// Walk reads the trace JSON in r (uncompressed) once and tells v about its
// planes (processes), lines (threads) and complete events. The top-level
// object's keys may come in any order; all but traceEvents are skipped. A
// bare array of events (the JSON Array Format) is read too.
//
// A process becomes a plane with ID pid-1 and a thread a line with ID and
// DisplayID tid, named by the process_name and thread_name M events, or
// "pid N" and "tid N" when the trace names them only later or never. The
// planes and lines that M events name before the first X event are declared
// just before it, in the order the M events name them (the TSL converter
// writes every M event first); any other plane or line is declared when its
// first event arrives, or at the end if only M events name it. An M event
// that renames a plane or line already declared cannot be applied and is
// counted in Stats.LateMetadata, unless v is a capture.Renamer, which is
// told the new name. v.Base is called once, before the first event, with the
// first X event's ts floored to the microsecond; event times are picoseconds
// relative to it. Other phases are counted and skipped, and so is every
// event of the process named SkipProcess. An X event whose cat is "Trace"
// is the profiling session, not an event: a capture.SessionVisitor is told
// it at the end. A PyTorch profiler (kineto) trace is read by kineto's
// conventions (see kineto.go and docs/formats.md).
//
// Each RawEvent's Ref is the byte range of its JSON object in r, for
// Loader.Load. An error from v.Event stops the walk and is returned as is.
// When r is a BlockReader, Walk reads it with ReadBlock.
func Walk(ctx context.Context, r io.Reader, v capture.Visitor, opts WalkOptions) (Stats, error) {
	w := newWalker(r, v, opts)
	err := w.run(ctx)
	var se *SyntaxError
	if err != nil && opts.AllowTruncated && w.found && errors.As(err, &se) && se.Truncated {
		err = nil
	}
	if err == nil {
		w.declareRest()
	}
	st := w.stats
	if err == nil {
		w.reportSession()
	}
	if w.kineto != nil {
		st.Kineto = true
		if err == nil {
			st.FrameworkOps = w.kineto.finish()
		}
	}
	st.Bytes = w.read
	st.Phases = make(map[string]int64, len(w.other)+4)
	for c, n := range w.phases {
		if n > 0 {
			st.Phases[string(rune(c))] = n
		}
	}
	for p, n := range w.other {
		st.Phases[p] = n
	}
	return st, err
}

// bom is the UTF-8 byte order mark, which Walk skips at the start.
var bom = []byte{0xef, 0xbb, 0xbf}

// walker holds one walk's state.
type walker struct {
	scanner
	r        io.Reader
	br       BlockReader // r, when it reads by blocks
	v        capture.Visitor
	maxEvent int

	buf      []byte // buf[pos:end] is unread; buf[0] is at stream offset off
	pos, end int
	eof      bool
	read     int64
	zeroRead int
	found    bool // a traceEvents array was found
	// bare is set for the JSON Array Format, whose closing bracket the
	// Trace Event Format makes optional: the stream may end after any
	// event (and a comma).
	bare bool

	f       fields
	ev      capture.RawEvent
	nameBuf []byte
	keyBuf  []byte

	haveBase bool
	baseUS   int64
	declared bool // the planes and lines named before the first X event are declared

	procs map[int64]*proc
	order []*proc
	// String pids and tids, by their raw text, and back.
	strIDs   map[string]int64
	strNames map[int64]string
	kineto   *kineto // set once the trace is known to be kineto's
	sess     sessionMark
	// The last (pid, tid) an X event used, and its thread (nil: skipped).
	lastOK  bool
	lastPid int64
	lastTid int64
	lastP   *proc
	lastT   *thread
	phases  [256]int64
	other   map[string]int64
	stats   Stats
}

func newWalker(r io.Reader, v capture.Visitor, opts WalkOptions) *walker {
	size := opts.BufferSize
	if size <= 0 {
		size = DefaultBufferSize
	}
	w := &walker{
		r: r, v: v,
		maxEvent: opts.MaxEventBytes,
		procs:    make(map[int64]*proc),
	}
	if w.maxEvent <= 0 {
		w.maxEvent = DefaultMaxEventBytes
	}
	w.maxDepth = opts.MaxDepth
	if w.maxDepth <= 0 {
		w.maxDepth = DefaultMaxDepth
	}
	w.maxDepth = min(w.maxDepth, maxMaxDepth)
	w.event = -1
	if br, ok := r.(BlockReader); ok {
		w.br = br
	} else {
		w.buf = make([]byte, min(size, w.maxEvent+1))
	}
	return w
}

// more keeps buf[pos:end] and reads more of the stream after it. It fails
// with a truncation error when the stream has ended.
func (w *walker) more(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.eof {
		return w.truncated()
	}
	if w.br != nil {
		return w.moreBlock()
	}
	if w.pos > 0 {
		w.end = copy(w.buf, w.buf[w.pos:w.end])
		w.off += int64(w.pos)
		w.pos = 0
	}
	if w.end == len(w.buf) {
		if len(w.buf) > w.maxEvent {
			return &SyntaxError{Off: w.off, Event: w.event, Err: ErrTooLarge,
				What: fmt.Sprintf("an item larger than %d bytes", w.maxEvent)}
		}
		nb := make([]byte, min(2*len(w.buf), w.maxEvent+1))
		copy(nb, w.buf[:w.end])
		w.buf = nb
	}
	start := w.end
	for w.end < len(w.buf) {
		n, err := w.r.Read(w.buf[w.end:])
		w.end += n
		w.read += int64(n)
		if err == io.EOF {
			w.eof = true
			break
		}
		if err != nil {
			return fmt.Errorf("tracejson: read: %w", err)
		}
		if n > 0 {
			w.zeroRead = 0
		} else if w.zeroRead++; w.zeroRead > 100 {
			return fmt.Errorf("tracejson: read: %w", io.ErrNoProgress)
		}
	}
	if w.end == start {
		return w.truncated()
	}
	return nil
}

// moreBlock is more for a BlockReader: the unread bytes and the next
// block come back as one slice, and only the unread bytes are copied.
func (w *walker) moreBlock() error {
	keep := w.buf[w.pos:w.end]
	w.off += int64(w.pos)
	if len(keep) > w.maxEvent {
		return &SyntaxError{Off: w.off, Event: w.event, Err: ErrTooLarge,
			What: fmt.Sprintf("an item larger than %d bytes", w.maxEvent)}
	}
	b, err := w.br.ReadBlock(keep)
	if len(b) < len(keep) {
		return fmt.Errorf("tracejson: read: %w", io.ErrShortBuffer)
	}
	n := len(b) - len(keep)
	w.buf, w.pos, w.end = b, 0, len(b)
	w.read += int64(n)
	switch {
	case err == io.EOF:
		w.eof = true
		if n == 0 {
			return w.truncated()
		}
	case err != nil:
		return fmt.Errorf("tracejson: read: %w", err)
	case n > 0:
		w.zeroRead = 0
	default:
		if w.zeroRead++; w.zeroRead > 100 {
			return fmt.Errorf("tracejson: read: %w", io.ErrNoProgress)
		}
	}
	return nil
}

func (w *walker) truncated() error {
	return &SyntaxError{Off: w.read, Event: w.event, What: "unexpected end of input", Truncated: true, Err: ErrMalformed}
}

// peek returns the next non-space byte, leaving pos on it; eof reports a
// clean end of the stream instead.
func (w *walker) peek(ctx context.Context) (c byte, eof bool, err error) {
	for {
		w.pos = skipWS(w.buf[:w.end], w.pos)
		if w.pos < w.end {
			return w.buf[w.pos], false, nil
		}
		if w.eof {
			return 0, true, nil
		}
		if err := w.more(ctx); err != nil {
			var se *SyntaxError
			if errors.As(err, &se) && se.Truncated {
				return 0, true, nil
			}
			return 0, false, err
		}
	}
}

// need is peek where the end of the stream is an error.
func (w *walker) need(ctx context.Context) (byte, error) {
	c, eof, err := w.peek(ctx)
	if err == nil && eof {
		err = w.truncated()
	}
	return c, err
}

func (w *walker) errHere(kind error, what string) error {
	return w.errAt(w.pos, kind, what)
}

// run reads the whole document.
func (w *walker) run(ctx context.Context) error {
	c, eof, err := w.peek(ctx)
	if err != nil {
		return err
	}
	if c == bom[0] && w.pos == 0 && w.off == 0 {
		// A UTF-8 byte order mark, which some Windows tools write.
		for w.end-w.pos < len(bom) && !w.eof {
			if w.more(ctx) != nil {
				break
			}
		}
		if bytes.HasPrefix(w.buf[w.pos:w.end], bom) {
			w.pos += len(bom)
			if c, eof, err = w.peek(ctx); err != nil {
				return err
			}
		}
	}
	if eof {
		return ErrEmpty
	}
	switch c {
	case '[':
		// The JSON Array Format: the document is the events array.
		w.pos++
		w.found, w.bare = true, true
		if err := w.events(ctx, 1); err != nil {
			return err
		}
	case '{':
		if err := w.object(ctx); err != nil {
			return err
		}
	default:
		return w.errAt(w.pos, ErrMalformed, fmt.Sprintf("expected '{' at the start of a trace, found %s", describeByte(c)))
	}
	if _, eof, err := w.peek(ctx); err != nil {
		return err
	} else if !eof {
		return w.errHere(ErrMalformed, "data after the end of the top-level value")
	}
	if !w.found {
		return ErrNoTraceEvents
	}
	w.stats.Complete = true
	return nil
}

// object reads the top-level object, walking its traceEvents and skipping
// everything else.
func (w *walker) object(ctx context.Context) error {
	w.pos++ // '{'
	for first := true; ; first = false {
		c, err := w.need(ctx)
		if err != nil {
			return err
		}
		if c == '}' && first {
			w.pos++
			return nil
		}
		if c != '"' {
			return w.unexpected(w.buf, w.pos, "expected a string key in the top-level object")
		}
		isEvents, err := w.key(ctx)
		if err != nil {
			return err
		}
		if c, err = w.need(ctx); err != nil {
			return err
		}
		if c != ':' {
			return w.unexpected(w.buf, w.pos, "expected ':' after a key")
		}
		w.pos++
		if c, err = w.need(ctx); err != nil {
			return err
		}
		if isEvents {
			if c != '[' {
				return w.errHere(ErrNoTraceEvents, fmt.Sprintf("traceEvents is not an array (found %s)", describeByte(c)))
			}
			w.pos++
			w.found = true
			if err := w.events(ctx, 2); err != nil {
				return err
			}
		} else if err := w.skipTop(ctx); err != nil {
			return err
		}
		if c, err = w.need(ctx); err != nil {
			return err
		}
		switch c {
		case ',':
			w.pos++
		case '}':
			w.pos++
			return nil
		default:
			return w.unexpected(w.buf, w.pos, "expected ',' or '}' after a value in the top-level object")
		}
	}
}

// key reads the top-level key at pos and reports whether it is traceEvents.
func (w *walker) key(ctx context.Context) (bool, error) {
	for {
		b := w.buf[:w.end]
		j, esc, ok := scanString(b, w.pos+1)
		if !ok {
			if err := w.strErr(b, j); err != errNeedMore {
				return false, err
			}
			if err := w.more(ctx); err != nil {
				return false, err
			}
			continue
		}
		k := b[w.pos+1 : j]
		if esc {
			if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], k); !ok {
				return false, w.errHere(ErrMalformed, "bad escape in a key")
			}
			k = w.keyBuf
		}
		w.pos = j + 1
		return string(k) == "traceEvents", nil
	}
}

// skipTop skips a top-level value of any size, block by block.
func (w *walker) skipTop(ctx context.Context) error {
	var sk streamSkip
	sk.maxDepth = w.maxDepth
	sk.s = &w.scanner
	for {
		i, done, err := sk.feed(w.buf[:w.end], w.pos)
		w.pos = i
		if err != nil || done {
			return err
		}
		if err := w.more(ctx); err != nil {
			return err
		}
	}
}
