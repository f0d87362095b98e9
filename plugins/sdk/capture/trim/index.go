package trim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Indexer is the first pass: a capture.Visitor that records every event.
type Indexer struct {
	opts   Options
	spill  Spill
	w      *bufio.Writer
	err    error
	nbytes int64

	baseNS  int64
	baseSet bool

	planes []*planeState
	lines  []*lineState // by global line key

	names []nameKey // by name id

	session    capture.Interval
	hasSession bool
	renamed    bool // a rename may have changed which planes and lines hold ops

	events     int64
	spanStart  int64
	spanEnd    int64
	prevStart  int64
	prevRefEnd int64
	prevSeq    int64
	rec        []byte
}

type planeState struct {
	info    capture.PlaneInfo
	device  bool
	lines   []int // global line keys
	events  int64
	ops     int64
	opTotal int64
	opIv    []capture.Interval
	compact int // opIv length after the last compaction
}

type lineState struct {
	plane  int
	index  int
	info   capture.LineInfo
	op     bool
	names  map[string]uint32
	sorted bool
	last   capture.Interval // last event seen, for the order check
	seen   bool
	// stack holds the line's open events while it is sorted: an event's
	// record is written once its self time is known (see nest).
	stack []frame
}

type nameKey struct {
	line int
	name string
}

// NewIndexer returns an Indexer for one source.
func NewIndexer(opts Options) *Indexer {
	sp := opts.Spill
	if sp == nil {
		sp = &memSpill{}
	}
	return &Indexer{opts: opts, spill: sp, w: bufio.NewWriterSize(sp, 1<<20), rec: make([]byte, 0, 64)}
}

// Base implements capture.Visitor.
func (x *Indexer) Base(ns int64) {
	if !x.baseSet {
		x.baseNS, x.baseSet = ns, true
	}
}

// Plane implements capture.Visitor.
func (x *Indexer) Plane(p capture.PlaneInfo) int {
	x.planes = append(x.planes, &planeState{info: p, device: capture.IsDevicePlane(p.Name)})
	return len(x.planes) - 1
}

// Line implements capture.Visitor.
func (x *Indexer) Line(plane int, l capture.LineInfo) int {
	p := x.planes[plane]
	ls := &lineState{
		plane: plane, index: len(p.lines), info: l,
		op:    p.device && capture.IsOpLine(l.Name),
		names: make(map[string]uint32), sorted: true,
	}
	x.lines = append(x.lines, ls)
	p.lines = append(p.lines, len(x.lines)-1)
	return ls.index
}

// Session implements capture.SessionVisitor.
func (x *Indexer) Session(start, end int64) {
	if end > start {
		x.session, x.hasSession = capture.Interval{Start: start, End: end}, true
	}
}

// RenamePlane implements capture.Renamer.
func (x *Indexer) RenamePlane(plane int, name string) {
	if plane < 0 || plane >= len(x.planes) {
		return
	}
	p := x.planes[plane]
	p.info.Name = name
	if dev := capture.IsDevicePlane(name); dev != p.device {
		p.device = dev
		x.renamed = true
	}
	for _, key := range p.lines {
		ls := x.lines[key]
		if op := p.device && capture.IsOpLine(ls.info.Name); op != ls.op {
			ls.op = op
			x.renamed = true
		}
	}
}

// RenameLine implements capture.Renamer.
func (x *Indexer) RenameLine(plane, line int, name string) {
	if plane < 0 || plane >= len(x.planes) || line < 0 || line >= len(x.planes[plane].lines) {
		return
	}
	p := x.planes[plane]
	ls := x.lines[p.lines[line]]
	ls.info.Name = name
	if op := p.device && capture.IsOpLine(name); op != ls.op {
		ls.op = op
		x.renamed = true
	}
}

// Event implements capture.Visitor.
func (x *Indexer) Event(e *capture.RawEvent) error {
	if x.err != nil {
		return x.err
	}
	if e.Plane < 0 || e.Plane >= len(x.planes) || e.Line < 0 || e.Line >= len(x.planes[e.Plane].lines) {
		return fmt.Errorf("trim: event names plane %d line %d, which were not declared", e.Plane, e.Line)
	}
	if e.Dur < 0 {
		return fmt.Errorf("trim: event %d has a negative duration", x.events)
	}
	p := x.planes[e.Plane]
	key := p.lines[e.Line]
	ls := x.lines[key]
	end := e.Start + e.Dur
	if x.events == 0 {
		x.spanStart, x.spanEnd = e.Start, end
	} else {
		x.spanStart = min(x.spanStart, e.Start)
		x.spanEnd = max(x.spanEnd, end)
	}
	x.events++
	p.events++
	if ls.op {
		p.ops++
		p.opTotal += e.Dur
		p.opIv = append(p.opIv, capture.Interval{Start: e.Start, End: end})
		if len(p.opIv) >= 1<<16 && len(p.opIv) >= 2*p.compact {
			p.opIv = capture.Union(p.opIv)
			p.compact = len(p.opIv)
		}
	}
	wasSorted := ls.sorted
	if ls.seen && (e.Start < ls.last.Start || (e.Start == ls.last.Start && end > ls.last.End)) {
		ls.sorted = false
	}
	ls.seen, ls.last = true, capture.Interval{Start: e.Start, End: end}

	id, ok := ls.names[string(e.Name)]
	if !ok {
		id = uint32(len(x.names))
		name := string(e.Name)
		ls.names[name] = id
		x.names = append(x.names, nameKey{line: key, name: name})
	}

	r := record{line: key, name: id, start: e.Start, dur: e.Dur, ref: e.Ref, seq: x.events - 1}
	switch {
	case ls.sorted:
		x.nest(ls, &r)
	case wasSorted:
		// The line just turned out of order: Finish sorts and replays
		// all of its records, so the open ones are written as they are.
		x.drain(ls)
		x.write(&r, 0)
	default:
		x.write(&r, 0)
	}
	return x.err
}

// nest adds the next event of a sorted line, in (start, longest first)
// order: the open events it does not fit in are done, and their records
// are written with their self times.
func (x *Indexer) nest(ls *lineState, r *record) {
	st := ls.stack
	end := r.start + r.dur
	for len(st) > 0 {
		top := &st[len(st)-1]
		if end <= top.rec.start+top.rec.dur {
			break
		}
		x.write(&top.rec, top.rec.dur-top.children)
		st = st[:len(st)-1]
	}
	if len(st) > 0 {
		st[len(st)-1].children += r.dur
	}
	ls.stack = append(st, frame{rec: *r})
}

// drain writes the records of a line's open events, innermost first.
func (x *Indexer) drain(ls *lineState) {
	for i := len(ls.stack) - 1; i >= 0; i-- {
		f := &ls.stack[i]
		x.write(&f.rec, f.rec.dur-f.children)
	}
	ls.stack = ls.stack[:0]
}

// write appends one record to the spill.
func (x *Indexer) write(rec *record, self int64) {
	if x.err != nil {
		return
	}
	r := x.rec[:0]
	r = binary.AppendUvarint(r, uint64(rec.line))
	r = binary.AppendUvarint(r, uint64(rec.name))
	r = binary.AppendVarint(r, rec.start-x.prevStart)
	r = binary.AppendUvarint(r, uint64(rec.dur))
	r = binary.AppendVarint(r, self)
	r = binary.AppendVarint(r, rec.ref.Off-x.prevRefEnd)
	r = binary.AppendUvarint(r, uint64(rec.ref.Len))
	r = binary.AppendVarint(r, rec.seq-x.prevSeq)
	x.prevStart, x.prevRefEnd, x.prevSeq = rec.start, rec.ref.Off+rec.ref.Len, rec.seq
	x.rec = r
	n, err := x.w.Write(r)
	x.nbytes += int64(n)
	if err != nil {
		x.err = fmt.Errorf("trim: write spill: %w", err)
	}
}

// Events returns how many events the indexer has seen.
func (x *Indexer) Events() int64 { return x.events }

// record is one index record: an event's place, times and Ref, and its
// position in the source's order (seq).
type record struct {
	line  int
	name  uint32
	start int64
	dur   int64
	self  int64 // for a line that stayed sorted; else Finish computes it
	ref   capture.Ref
	seq   int64
}

// recordReader decodes records in the order they were written, from large
// blocks of the spill.
type recordReader struct {
	r          io.Reader
	buf        []byte
	pos, end   int
	eof        bool
	prevStart  int64
	prevRefEnd int64
	prevSeq    int64
}

// recordFields is the number of varints in a record; maxRecord bounds one
// encoded record.
const (
	recordFields = 8
	maxRecord    = recordFields * binary.MaxVarintLen64
)

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: r, buf: make([]byte, 1<<20)}
}

// fill makes at least maxRecord bytes available unless the spill ends.
func (rr *recordReader) fill() error {
	if rr.end-rr.pos >= maxRecord || rr.eof {
		return nil
	}
	rr.end = copy(rr.buf, rr.buf[rr.pos:rr.end])
	rr.pos = 0
	for rr.end < maxRecord && !rr.eof {
		n, err := rr.r.Read(rr.buf[rr.end:])
		rr.end += n
		if err == io.EOF {
			rr.eof = true
		} else if err != nil {
			return fmt.Errorf("trim: read spill: %w", err)
		}
	}
	return nil
}

func (rr *recordReader) next(rec *record) error {
	if err := rr.fill(); err != nil {
		return err
	}
	if rr.pos == rr.end {
		return io.EOF
	}
	b := rr.buf[rr.pos:rr.end]
	var vals [recordFields]uint64
	off := 0
	for i := range vals {
		// Most values fit in one byte.
		if off < len(b) && b[off] < 0x80 {
			vals[i] = uint64(b[off])
			off++
			continue
		}
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("%w: bad varint at record byte %d", ErrBadRecord, off)
		}
		vals[i] = v
		off += n
	}
	rr.pos += off
	zigzag := func(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
	rec.line = int(vals[0])
	rec.name = uint32(vals[1])
	rec.start = rr.prevStart + zigzag(vals[2])
	rec.dur = int64(vals[3])
	rec.self = zigzag(vals[4])
	rec.ref = capture.Ref{Off: rr.prevRefEnd + zigzag(vals[5]), Len: int64(vals[6])}
	rec.seq = rr.prevSeq + zigzag(vals[7])
	rr.prevStart, rr.prevRefEnd, rr.prevSeq = rec.start, rec.ref.Off+rec.ref.Len, rec.seq
	return nil
}
