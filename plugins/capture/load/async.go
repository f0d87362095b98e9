package load

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// indexer is what the loader feeds a source to: a trim.Indexer.
type indexer interface {
	capture.SessionVisitor
	capture.Renamer
}

// errIndex means the indexer numbered a plane or line otherwise than
// asyncVisitor predicted.
var errIndex = errors.New("load: the indexer numbered planes or lines out of order")

// Sizes of asyncVisitor's batches.
const (
	batchOps   = 4096     // calls per batch
	batchNames = 64 << 10 // bytes of event names per batch
	batches    = 3        // batches in flight
)

// asyncVisitor hands a reader's calls, in batches, to an indexer that runs
// on a goroutine of its own, so that reading a source and indexing it use
// both cores. It is a capture.Visitor, SessionVisitor and Renamer.
//
// The indexes it returns for planes and lines are predicted — 0, 1, 2, …
// in the order they are declared, per plane for lines, as trim.Indexer
// numbers them — and checked against the indexer's own when it gets the
// call. An error from the indexer comes back from a later call (Event, or
// close), which is when a reader learns of it.
type asyncVisitor struct {
	ctx    context.Context
	full   chan *vbatch
	free   chan *vbatch
	cur    *vbatch
	planes int
	lines  []int // per plane
	bad    error // a call the indexer could not take, found on this side

	done chan struct{}
	err  error // the indexer's error, set before done is closed
}

// vbatch is a run of calls in order; events' names are in names.
type vbatch struct {
	ops   []vop
	decls []vdecl
	names []byte
}

type opKind uint8

const (
	opEvent opKind = iota
	opBase
	opPlane
	opLine
	opSession
	opRenamePlane
	opRenameLine
)

// vop is one call: an event (its name at names[ns:ne]) or a declaration
// (decls[ns]). It is small, for it is copied once per event.
type vop struct {
	kind        opKind
	plane, line int32
	ns, ne      int32
	start, dur  int64
	off, len    int64
}

type vdecl struct {
	plane  capture.PlaneInfo
	line   capture.LineInfo
	pi, li int
	a, b   int64
	name   string
}

// startAsync starts x's goroutine. The caller must call close, which waits
// for it.
func startAsync(ctx context.Context, x indexer) *asyncVisitor {
	v := &asyncVisitor{ctx: ctx, full: make(chan *vbatch, batches-2), free: make(chan *vbatch, batches), done: make(chan struct{})}
	for range batches - 1 {
		v.free <- &vbatch{ops: make([]vop, 0, batchOps), names: make([]byte, 0, batchNames)}
	}
	v.cur = &vbatch{ops: make([]vop, 0, batchOps), names: make([]byte, 0, batchNames)}
	go v.run(x)
	return v
}

// run applies the batches to x until full is closed or x fails.
func (v *asyncVisitor) run(x indexer) {
	defer close(v.done)
	for b := range v.full {
		if err := v.ctx.Err(); err != nil {
			v.err = err
			return
		}
		if err := apply(x, b); err != nil {
			v.err = err
			return
		}
		b.ops, b.decls, b.names = b.ops[:0], b.decls[:0], b.names[:0]
		v.free <- b
	}
}

func apply(x indexer, b *vbatch) error {
	var ev capture.RawEvent
	for i := range b.ops {
		o := &b.ops[i]
		if o.kind == opEvent {
			ev = capture.RawEvent{Plane: int(o.plane), Line: int(o.line), Name: b.names[o.ns:o.ne],
				Start: o.start, Dur: o.dur, Ref: capture.Ref{Off: o.off, Len: o.len}}
			if err := x.Event(&ev); err != nil {
				return err
			}
			continue
		}
		d := &b.decls[o.ns]
		switch o.kind {
		case opBase:
			x.Base(d.a)
		case opPlane:
			if got := x.Plane(d.plane); got != d.pi {
				return fmt.Errorf("%w: plane %q is %d, expected %d", errIndex, d.plane.Name, got, d.pi)
			}
		case opLine:
			if got := x.Line(d.pi, d.line); got != d.li {
				return fmt.Errorf("%w: line %q is %d, expected %d", errIndex, d.line.Name, got, d.li)
			}
		case opSession:
			x.Session(d.a, d.b)
		case opRenamePlane:
			x.RenamePlane(d.pi, d.name)
		case opRenameLine:
			x.RenameLine(d.pi, d.li, d.name)
		}
	}
	return nil
}

// send hands the current batch over and takes a free one.
func (v *asyncVisitor) send() error {
	if v.bad != nil {
		return v.bad
	}
	select {
	case v.full <- v.cur:
	case <-v.done:
		v.cur = nil
		return v.stopped()
	case <-v.ctx.Done():
		return v.ctx.Err()
	}
	select {
	case v.cur = <-v.free:
		return nil
	case <-v.done:
		v.cur = nil
		return v.stopped()
	case <-v.ctx.Done():
		v.cur = nil
		return v.ctx.Err()
	}
}

// errStopped means the indexer's goroutine ended before the reader did.
var errStopped = errors.New("load: the indexer stopped early")

// stopped returns why the indexer's goroutine ended; done must be closed.
func (v *asyncVisitor) stopped() error {
	if v.err != nil {
		return v.err
	}
	return errStopped
}

// decl queues a declaration.
func (v *asyncVisitor) decl(kind opKind, d vdecl) {
	if v.cur == nil {
		return
	}
	v.cur.ops = append(v.cur.ops, vop{kind: kind, ns: int32(len(v.cur.decls))})
	v.cur.decls = append(v.cur.decls, d)
}

// close hands over what is left, stops the indexer's goroutine and waits
// for it; it returns the indexer's error, if any.
func (v *asyncVisitor) close() error {
	var err error
	if v.cur != nil && len(v.cur.ops) > 0 {
		err = v.send()
	}
	close(v.full)
	<-v.done
	if v.err != nil {
		return v.err
	}
	if v.bad != nil {
		return v.bad
	}
	return err
}

// Base implements capture.Visitor.
func (v *asyncVisitor) Base(ns int64) { v.decl(opBase, vdecl{a: ns}) }

// Plane implements capture.Visitor.
func (v *asyncVisitor) Plane(p capture.PlaneInfo) int {
	i := v.planes
	v.planes++
	v.lines = append(v.lines, 0)
	v.decl(opPlane, vdecl{plane: p, pi: i})
	return i
}

// Line implements capture.Visitor.
func (v *asyncVisitor) Line(plane int, l capture.LineInfo) int {
	if plane < 0 || plane >= v.planes {
		if v.bad == nil {
			v.bad = fmt.Errorf("load: line %q declared on plane %d, which was not declared", l.Name, plane)
		}
		return -1
	}
	i := v.lines[plane]
	v.lines[plane]++
	v.decl(opLine, vdecl{line: l, pi: plane, li: i})
	return i
}

// Session implements capture.SessionVisitor.
func (v *asyncVisitor) Session(start, end int64) { v.decl(opSession, vdecl{a: start, b: end}) }

// RenamePlane implements capture.Renamer.
func (v *asyncVisitor) RenamePlane(plane int, name string) {
	v.decl(opRenamePlane, vdecl{pi: plane, name: name})
}

// RenameLine implements capture.Renamer.
func (v *asyncVisitor) RenameLine(plane, line int, name string) {
	v.decl(opRenameLine, vdecl{pi: plane, li: line, name: name})
}

// Event implements capture.Visitor.
func (v *asyncVisitor) Event(e *capture.RawEvent) error {
	if v.cur == nil {
		return errStopped
	}
	b := v.cur
	ns := len(b.names)
	b.names = append(b.names, e.Name...)
	b.ops = append(b.ops, vop{kind: opEvent, plane: int32(e.Plane), line: int32(e.Line), ns: int32(ns), ne: int32(len(b.names)),
		start: e.Start, dur: e.Dur, off: e.Ref.Off, len: e.Ref.Len})
	if len(b.ops) >= batchOps || len(b.names) >= batchNames {
		return v.send()
	}
	return nil
}
