package tracejson

import (
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file maps processes and threads to the Visitor's planes and lines.

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
		p.name = "pid " + w.idName(p.pid)
	}
	p.idx = w.v.Plane(capture.PlaneInfo{ID: p.pid - 1, Name: p.name})
}

func (w *walker) declareLine(p *proc, t *thread) {
	if t.name == "" {
		t.name = "tid " + w.idName(t.tid)
	}
	t.idx = w.v.Line(p.idx, capture.LineInfo{ID: t.tid, DisplayID: t.tid, Name: t.name})
}

// declareRest declares the processes and threads that only M events named.
func (w *walker) declareRest() {
	if w.kineto != nil {
		// Kineto's processes and threads are not planes and lines: its
		// events were placed by their category.
		return
	}
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
	pid, err := w.idField(b, f.pid, "pid")
	if err != nil {
		return err
	}
	w.lastOK = false
	p := w.proc(pid)
	if isProc {
		if p.idx >= 0 || p.skipped > 0 {
			if name != p.name {
				if w.rename(p.idx, -1, name) {
					p.name = name
				} else {
					w.stats.LateMetadata++
				}
			}
			return nil
		}
		p.name, p.skip = name, name == SkipProcess
		return nil
	}
	tid, err := w.idField(b, f.tid, "tid")
	if err != nil {
		return err
	}
	t := p.threads[tid]
	if t == nil {
		t = &thread{tid: tid, idx: -1}
		p.threads[tid] = t
		p.order = append(p.order, t)
	}
	if w.kineto != nil {
		w.kineto.threadName(w, pid, tid, name)
	}
	if t.idx >= 0 || p.skipped > 0 {
		if name != t.name {
			if w.rename(p.idx, t.idx, name) {
				t.name = name
			} else {
				w.stats.LateMetadata++
			}
		}
		return nil
	}
	t.name = name
	return nil
}

// rename applies a late name to a declared plane (line < 0) or line, if the
// visitor takes renames; it reports whether it did.
func (w *walker) rename(plane, line int, name string) bool {
	r, ok := w.v.(capture.Renamer)
	if !ok || plane < 0 {
		return false
	}
	if line < 0 {
		r.RenamePlane(plane, name)
	} else {
		r.RenameLine(plane, line, name)
	}
	return true
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
