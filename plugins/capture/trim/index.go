package trim

import (
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Indexer is the first pass: a capture.Visitor that records every event.
type Indexer struct {
	opts   Options
	spill  Spill
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

	lastKey   int        // the line of the last event
	lastLS    *lineState // (nil before the first)
	nameCache [1024]nameSlot

	events    int64
	spanStart int64
	spanEnd   int64

	// The records: see record.go.
	buf        []byte // records not yet in the spill
	prevStart  int64
	prevRefEnd int64
	prevSeq    int64
	chunks     []chunk
	inChunk    int               // records in the last chunk
	long       []record          // records of long events, held in memory
	totals     []capture.Dropped // by name id: every record's count, total, self
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
	// firstChunk is the chunk of the line's first record; -1 before.
	firstChunk int
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
	return &Indexer{opts: opts, spill: sp, buf: make([]byte, 0, spillBuf+maxRecord)}
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
		names: make(map[string]uint32), sorted: true, firstChunk: -1,
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
	if e.Dur < 0 {
		return fmt.Errorf("trim: event %d has a negative duration", x.events)
	}
	// Events come in runs on the same line.
	key, ls := x.lastKey, x.lastLS
	if ls == nil || e.Plane != ls.plane || e.Line != ls.index {
		if e.Plane < 0 || e.Plane >= len(x.planes) || e.Line < 0 || e.Line >= len(x.planes[e.Plane].lines) {
			return fmt.Errorf("trim: event names plane %d line %d, which were not declared", e.Plane, e.Line)
		}
		key = x.planes[e.Plane].lines[e.Line]
		ls = x.lines[key]
		x.lastKey, x.lastLS = key, ls
	}
	p := x.planes[ls.plane]
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

	id := x.nameID(key, ls, e.Name)

	switch {
	case ls.sorted:
		x.nest(ls, key, id, e)
	case wasSorted:
		// The line just turned out of order: Finish sorts and replays
		// all of its records, so the open ones are written as they are,
		// and the chunks that hold its records must be read.
		x.mustRead(ls)
		x.drain(ls)
		fallthrough
	default:
		r := record{line: key, name: id, start: e.Start, dur: e.Dur, ref: e.Ref, seq: x.events - 1}
		x.write(ls, &r, 0)
	}
	return x.err
}

// nameID returns the id of a line's name, adding it if new. A small cache
// in front of the line's map answers most calls: a source's lines repeat a
// few names over and over.
func (x *Indexer) nameID(key int, ls *lineState, name []byte) uint32 {
	h := uint(len(name))
	if len(name) > 0 {
		h = h*31 + uint(name[0]) + uint(name[len(name)-1])<<5 + uint(name[len(name)/2])<<10
	}
	c := &x.nameCache[(h^uint(key)*0x9e37)%uint(len(x.nameCache))]
	if c.ls == ls && c.name == string(name) {
		return c.id
	}
	id, ok := ls.names[string(name)]
	if !ok {
		id = uint32(len(x.names))
		s := string(name)
		ls.names[s] = id
		x.names = append(x.names, nameKey{line: key, name: s})
		x.totals = append(x.totals, capture.Dropped{})
	}
	*c = nameSlot{ls: ls, name: x.names[id].name, id: id}
	return id
}

// nameSlot is an entry of the name cache.
type nameSlot struct {
	ls   *lineState
	name string
	id   uint32
}

// nest adds the next event of a sorted line, in (start, longest first)
// order: the open events it does not fit in are done, and their records
// are written with their self times.
func (x *Indexer) nest(ls *lineState, key int, name uint32, e *capture.RawEvent) {
	st := ls.stack
	end := e.Start + e.Dur
	for len(st) > 0 {
		top := &st[len(st)-1]
		if end <= top.rec.start+top.rec.dur {
			break
		}
		x.write(ls, &top.rec, top.rec.dur-top.children)
		st = st[:len(st)-1]
	}
	if len(st) > 0 {
		st[len(st)-1].children += e.Dur
	}
	if len(st) < cap(st) {
		st = st[:len(st)+1]
	} else {
		st = append(st, frame{})
	}
	f := &st[len(st)-1]
	f.children = 0
	f.rec = record{line: key, name: name, start: e.Start, dur: e.Dur, ref: e.Ref, seq: x.events - 1}
	ls.stack = st
}

// drain writes the records of a line's open events, innermost first.
func (x *Indexer) drain(ls *lineState) {
	for i := len(ls.stack) - 1; i >= 0; i-- {
		f := &ls.stack[i]
		x.write(ls, &f.rec, f.rec.dur-f.children)
	}
	ls.stack = ls.stack[:0]
}

// Events returns how many events the indexer has seen.
func (x *Indexer) Events() int64 { return x.events }
