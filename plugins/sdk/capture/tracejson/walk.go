// Package tracejson reads and writes the Chrome trace JSON that the TSL
// profiler converter writes: *.trace.json, *.trace.json.gz, and jax's
// perfetto_trace.json.gz (the same without "metadata").
//
// Walk streams the uncompressed JSON once, handing each complete ("X") event
// to a capture.Visitor with its name, exact times and the byte range it
// occupies, without building objects; a Loader reads any event back in full
// from that range. Write turns a trimmed capture back into trace JSON that
// Perfetto and chrome://tracing open, with the removed idle stretches marked.
//
// Times are decimal microseconds with up to six decimals; they are parsed
// from their text into integer picoseconds, never through float64 (a 2026
// timestamp has 22 significant digits).
package tracejson

import (
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

// SkipProcess is the name of the process Walk skips: Write's markers for
// the idle stretches it removed.
const SkipProcess = "fleetprof"

// WalkOptions tune Walk. The zero value works.
type WalkOptions struct {
	// BufferSize is the size of the blocks read from the stream. Zero means
	// DefaultBufferSize (1 MiB).
	BufferSize int
	// MaxEventBytes bounds one event, and one top-level key, in bytes. Zero
	// means DefaultMaxEventBytes (64 MiB).
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
// counted in Stats.LateMetadata. v.Base is called once, before the first
// event, with the first X
// event's ts floored to the microsecond; event times are picoseconds
// relative to it. Other phases are counted and skipped, and so is every
// event of the process named SkipProcess.
//
// Each RawEvent's Ref is the byte range of its JSON object in r, for
// Loader.Load. An error from v.Event stops the walk and is returned as is.
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

// walker holds one walk's state.
type walker struct {
	scanner
	r        io.Reader
	v        capture.Visitor
	maxEvent int

	buf      []byte // buf[pos:end] is unread; buf[0] is at stream offset off
	pos, end int
	eof      bool
	read     int64
	zeroRead int
	found    bool // a traceEvents array was found

	f       fields
	ev      capture.RawEvent
	nameBuf []byte
	keyBuf  []byte

	haveBase bool
	baseUS   int64
	declared bool // the planes and lines named before the first X event are declared

	procs map[int64]*proc
	order []*proc
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

// fields are the byte ranges of an event's interesting values within the
// buffer; e == 0 means absent.
type fields struct {
	ph, pid, tid, ts, dur, name, args span
	phEsc, nameEsc, tsEsc, durEsc     bool
}

type span struct{ s, e int }

func (x span) ok() bool { return x.e != 0 }

// proc is a process met in the trace.
type proc struct {
	pid     int64
	name    string
	idx     int // plane index; -1 until declared
	skip    bool
	skipped int64
	threads map[int64]*thread
	order   []*thread
}

// thread is a thread met in the trace.
type thread struct {
	tid  int64
	name string
	idx  int // line index; -1 until declared
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
	w.buf = make([]byte, min(size, w.maxEvent+1))
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
	if eof {
		return ErrEmpty
	}
	switch c {
	case '[':
		// The JSON Array Format: the document is the events array.
		w.pos++
		w.found = true
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

// events walks the traceEvents array; pos is just past its '['. depth is
// the array's depth.
func (w *walker) events(ctx context.Context, depth int) error {
	const (
		afterOpen = iota
		afterComma
		afterEvent
	)
	state := afterOpen
	for {
		b := w.buf[:w.end]
		i := skipWS(b, w.pos)
		if i >= len(b) {
			w.pos = i
			if err := w.more(ctx); err != nil {
				return err
			}
			continue
		}
		c := b[i]
		if state == afterEvent {
			switch c {
			case ',':
				w.pos = i + 1
				state = afterComma
				continue
			case ']':
				w.pos = i + 1
				w.event = -1
				return nil
			}
			return w.unexpected(b, i, "expected ',' or ']' after an event")
		}
		w.event = int(w.stats.Events)
		if c == ']' && state == afterOpen {
			w.pos = i + 1
			w.event = -1
			return nil
		}
		if c != '{' {
			return w.unexpected(b, i, "expected an event object")
		}
		end, err := w.parseEvent(b, i, depth+1)
		if err == errNeedMore {
			w.pos = i
			if err := w.more(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		w.stats.Events++
		if err := w.handle(b, i, end); err != nil {
			return err
		}
		w.pos = end
		state = afterEvent
	}
}

// parseEvent reads the event object at b[i], noting where its interesting
// values are, and returns the index just past it.
func (w *walker) parseEvent(b []byte, i, depth int) (int, error) {
	f := &w.f
	*f = fields{}
	if depth > w.maxDepth {
		return i, w.tooDeep(i)
	}
	if i = skipWS(b, i+1); i >= len(b) {
		return i, errNeedMore
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		if b[i] != '"' {
			return i, w.unexpected(b, i, "expected a string key in an event")
		}
		ks := i + 1
		ke, esc, ok := scanShort(b, ks)
		if !ok {
			return ke, w.strErr(b, ke)
		}
		key := b[ks:ke]
		if esc {
			if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], key); !ok {
				return i, w.errAt(i, ErrMalformed, "bad escape in a key")
			}
			key = w.keyBuf
		}
		i = ke + 1
		if i < len(b) && b[i] == ':' {
			i++
		} else {
			if i = skipWS(b, i); i >= len(b) {
				return i, errNeedMore
			}
			if b[i] != ':' {
				return i, w.unexpected(b, i, "expected ':' after a key")
			}
			i++
		}
		if i = skipWS(b, i); i >= len(b) {
			return i, errNeedMore
		}
		var err error
		switch string(key) {
		case "ph":
			i, err = w.stringField(b, i, depth+1, &f.ph, &f.phEsc)
		case "name":
			i, err = w.stringField(b, i, depth+1, &f.name, &f.nameEsc)
		case "pid":
			i, err = w.numberField(b, i, depth+1, &f.pid, nil)
		case "tid":
			i, err = w.numberField(b, i, depth+1, &f.tid, nil)
		case "ts":
			i, err = w.numberField(b, i, depth+1, &f.ts, &f.tsEsc)
		case "dur":
			i, err = w.numberField(b, i, depth+1, &f.dur, &f.durEsc)
		case "args":
			var j int
			j, err = w.skipValue(b, i, depth+1)
			f.args = span{i, j}
			i = j
		default:
			i, err = w.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
		if i < len(b) && b[i] == ',' {
			i++
		} else {
			if i = skipWS(b, i); i >= len(b) {
				return i, errNeedMore
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, nil
			default:
				return i, w.unexpected(b, i, "expected ',' or '}' after a value in an event")
			}
		}
		if i < len(b) && b[i] == '"' {
			continue
		}
		if i = skipWS(b, i); i >= len(b) {
			return i, errNeedMore
		}
	}
}

// stringField notes the contents of the string at b[i].
func (w *walker) stringField(b []byte, i, depth int, sp *span, esc *bool) (int, error) {
	if b[i] != '"' {
		// Not a string: skip it, and the event is treated as not having it.
		*sp = span{}
		return w.skipValue(b, i, depth)
	}
	j, e, ok := scanString(b, i+1)
	if !ok {
		return j, w.strErr(b, j)
	}
	*sp, *esc = span{i + 1, j}, e
	return j + 1, nil
}

// numberField notes the number (or the contents of the string) at b[i].
func (w *walker) numberField(b []byte, i, depth int, sp *span, esc *bool) (int, error) {
	if b[i] == '"' {
		j, e, ok := scanString(b, i+1)
		if !ok {
			return j, w.strErr(b, j)
		}
		*sp = span{i + 1, j}
		if esc != nil {
			*esc = e
		}
		return j + 1, nil
	}
	if b[i]-'0' < 10 {
		// A number: its text is checked when it is parsed.
		j := i + 1
		for j < len(b) && (b[j]-'0' < 10 || b[j] == '.') {
			j++
		}
		if j < len(b) && b[j] != ',' && b[j] != '}' {
			for j < len(b) && isTokenByte(b[j]) {
				j++
			}
		}
		if j >= len(b) {
			return j, errNeedMore
		}
		*sp = span{i, j}
		return j, nil
	}
	j, err := w.skipValue(b, i, depth)
	*sp = span{i, j}
	return j, err
}

// handle acts on the event just parsed, b[start:end].
func (w *walker) handle(b []byte, start, end int) error {
	f := &w.f
	if !f.ph.ok() {
		return nil
	}
	ph := b[f.ph.s:f.ph.e]
	if f.phEsc {
		var ok bool
		if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], ph); !ok {
			return w.errAt(f.ph.s, ErrMalformed, "bad escape in ph")
		}
		ph = w.keyBuf
	}
	if len(ph) != 1 {
		if w.other == nil {
			w.other = make(map[string]int64)
		}
		w.other[string(ph)]++
		return nil
	}
	w.phases[ph[0]]++
	switch ph[0] {
	case 'X':
		return w.complete(b, start, end)
	case 'M':
		return w.meta(b)
	}
	return nil
}

// complete hands an X event to the visitor.
func (w *walker) complete(b []byte, start, end int) error {
	f := &w.f
	pid, err := w.intField(b, f.pid, "pid")
	if err != nil {
		return err
	}
	tid, err := w.intField(b, f.tid, "tid")
	if err != nil {
		return err
	}
	if !w.declared {
		// The trace's M events come first: declare what they named, in
		// their order, before the first event.
		w.declared = true
		w.declareRest()
	}
	p, t := w.lastP, w.lastT
	if !w.lastOK || pid != w.lastPid || tid != w.lastTid {
		p, t = w.thread(pid, tid)
		w.lastOK, w.lastPid, w.lastTid, w.lastP, w.lastT = true, pid, tid, p, t
	}
	if t == nil {
		p.skipped++
		w.stats.Skipped++
		return nil
	}
	if !f.ts.ok() {
		return w.errAt(start, ErrBadTime, "complete (X) event without ts")
	}
	us, ps, err := w.timeField(b, f.ts, f.tsEsc, "ts")
	if err != nil {
		return err
	}
	if !w.haveBase {
		w.haveBase, w.baseUS = true, us
		w.v.Base(us * 1000)
	}
	d := us - w.baseUS
	if d > maxRelUS || d < -maxRelUS {
		return w.errAt(f.ts.s, ErrBadTime, fmt.Sprintf("ts %s lies more than %d µs from the first event's", b[f.ts.s:f.ts.e], int64(maxRelUS)))
	}
	var dur int64
	if f.dur.ok() {
		dus, dps, err := w.timeField(b, f.dur, f.durEsc, "dur")
		if err != nil {
			return err
		}
		if dus > maxRelUS {
			return w.errAt(f.dur.s, ErrBadTime, fmt.Sprintf("dur %s is longer than %d µs", b[f.dur.s:f.dur.e], int64(maxRelUS)))
		}
		dur = dus*psPerUS + dps
	}
	var name []byte
	if f.name.ok() {
		name = b[f.name.s:f.name.e]
		if f.nameEsc {
			var ok bool
			if w.nameBuf, ok = appendUnescaped(w.nameBuf[:0], name); !ok {
				return w.errAt(f.name.s, ErrMalformed, "bad escape in name")
			}
			name = w.nameBuf
		}
	}
	ev := &w.ev
	ev.Plane, ev.Line = p.idx, t.idx
	ev.Name = name
	ev.Start, ev.Dur = d*psPerUS+ps, dur
	ev.Ref = capture.Ref{Off: w.off + int64(start), Len: int64(end - start)}
	w.stats.X++
	return w.v.Event(ev)
}

// timeField parses a ts or dur value.
func (w *walker) timeField(b []byte, sp span, esc bool, field string) (us, ps int64, err error) {
	if esc {
		return 0, 0, w.errAt(sp.s, ErrBadTime, field+" is a string with escapes, not a number")
	}
	us, ps, what := parseTime(b[sp.s:sp.e])
	if what != "" {
		return 0, 0, w.errAt(sp.s, ErrBadTime, field+" "+what)
	}
	return us, ps, nil
}

// intField parses a pid or tid; an absent one is 0.
func (w *walker) intField(b []byte, sp span, field string) (int64, error) {
	if !sp.ok() {
		return 0, nil
	}
	t := b[sp.s:sp.e]
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 18 {
		return 0, w.errAt(sp.s, ErrMalformed, fmt.Sprintf("%s %s is not an integer", field, quoteShort(b[sp.s:sp.e])))
	}
	var n int64
	for _, c := range t {
		if c-'0' > 9 {
			return 0, w.errAt(sp.s, ErrMalformed, fmt.Sprintf("%s %s is not an integer", field, quoteShort(b[sp.s:sp.e])))
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// proc returns the process with the given pid, adding it if new.
func (w *walker) proc(pid int64) *proc {
	p := w.procs[pid]
	if p == nil {
		p = &proc{pid: pid, idx: -1, threads: make(map[int64]*thread)}
		w.procs[pid] = p
		w.order = append(w.order, p)
	}
	return p
}

// thread returns the thread (pid, tid), declaring it and its process to
// the visitor if they are new; the thread is nil for a skipped process.
func (w *walker) thread(pid, tid int64) (*proc, *thread) {
	p := w.proc(pid)
	if p.skip {
		return p, nil
	}
	if p.idx < 0 {
		w.declarePlane(p)
	}
	t := p.threads[tid]
	if t == nil {
		t = &thread{tid: tid, idx: -1}
		p.threads[tid] = t
		p.order = append(p.order, t)
	}
	if t.idx < 0 {
		w.declareLine(p, t)
	}
	return p, t
}

func (w *walker) declarePlane(p *proc) {
	if p.name == "" {
		p.name = fmt.Sprintf("pid %d", p.pid)
	}
	p.idx = w.v.Plane(capture.PlaneInfo{ID: p.pid - 1, Name: p.name})
}

func (w *walker) declareLine(p *proc, t *thread) {
	if t.name == "" {
		t.name = fmt.Sprintf("tid %d", t.tid)
	}
	t.idx = w.v.Line(p.idx, capture.LineInfo{ID: t.tid, DisplayID: t.tid, Name: t.name})
}

// declareRest declares the processes and threads that only M events named.
func (w *walker) declareRest() {
	for _, p := range w.order {
		if p.skip {
			continue
		}
		if p.idx < 0 {
			w.declarePlane(p)
		}
		for _, t := range p.order {
			if t.idx < 0 {
				w.declareLine(p, t)
			}
		}
	}
}

// meta handles an M event: process_name and thread_name name planes and
// lines; other metadata (sort indexes) is ignored.
func (w *walker) meta(b []byte) error {
	f := &w.f
	if !f.name.ok() {
		return nil
	}
	kind := b[f.name.s:f.name.e]
	if f.nameEsc {
		var ok bool
		if w.nameBuf, ok = appendUnescaped(w.nameBuf[:0], kind); !ok {
			return w.errAt(f.name.s, ErrMalformed, "bad escape in name")
		}
		kind = w.nameBuf
	}
	isProc := string(kind) == "process_name"
	if !isProc && string(kind) != "thread_name" {
		return nil
	}
	name, ok, err := w.argsName(b)
	if err != nil || !ok {
		return err
	}
	pid, err := w.intField(b, f.pid, "pid")
	if err != nil {
		return err
	}
	w.lastOK = false
	p := w.proc(pid)
	if isProc {
		if p.idx >= 0 || p.skipped > 0 {
			if name != p.name {
				w.stats.LateMetadata++
			}
			return nil
		}
		p.name, p.skip = name, name == SkipProcess
		return nil
	}
	tid, err := w.intField(b, f.tid, "tid")
	if err != nil {
		return err
	}
	t := p.threads[tid]
	if t == nil {
		t = &thread{tid: tid, idx: -1}
		p.threads[tid] = t
		p.order = append(p.order, t)
	}
	if t.idx >= 0 || p.skipped > 0 {
		if name != t.name {
			w.stats.LateMetadata++
		}
		return nil
	}
	t.name = name
	return nil
}

// argsName returns args.name of the event just parsed.
func (w *walker) argsName(b []byte) (name string, ok bool, err error) {
	a := w.f.args
	if !a.ok() || b[a.s] != '{' {
		return "", false, nil
	}
	// The event's depth was checked when it was parsed: count from 1 here.
	_, err = w.members(b[:a.e], a.s, 1, func(key []byte, vs, ve int) error {
		if string(key) != "name" {
			return nil
		}
		name, ok = "", true
		var err error
		name, err = w.text(b, vs, ve)
		return err
	})
	return name, ok, err
}
