package trim

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Forker is a capture.Loader that can make copies of itself for other
// goroutines. Finish loads a capture's kept events on two goroutines, each
// with its own copy, when its loader is a Forker and there are many.
type Forker interface {
	capture.Loader
	// Fork returns a Loader over the same source that may be used at the
	// same time as this one.
	Fork() capture.Loader
}

// minForkLoads is the number of kept events from which Finish loads them
// on two goroutines.
const minForkLoads = 4096

// load loads the kept events in source order — so that every reader reads
// forward — and puts them on their lines. With a Forker and many events,
// the first half is loaded on this goroutine and the second on another.
func (rp *replay) load() error {
	kept := rp.kept
	rp.kept = nil
	slices.SortFunc(kept, func(a, b keptRec) int { return cmp.Compare(a.rec.ref.Off, b.rec.ref.Off) })
	// Each event's place on its line, in source order: the lines are
	// sized once and filled in place, from either goroutine.
	lines := make([]*capture.Line, len(rp.x.lines))
	count := make([]int, len(rp.x.lines))
	pos := make([]int32, len(kept))
	for i := range kept {
		key := kept[i].rec.line
		pos[i] = int32(count[key])
		count[key]++
	}
	for key, ls := range rp.x.lines {
		if count[key] > 0 {
			l := rp.c.Planes[ls.plane].Lines[ls.index]
			l.Events = make([]capture.Event, count[key])
			lines[key] = l
		}
	}
	run := func(ld capture.Loader, from, to int) error {
		in := newInterner()
		for i := from; i < to; i++ {
			k := &kept[i]
			if (i-from)%1024 == 0 {
				if err := rp.ctx.Err(); err != nil {
					return err
				}
			}
			ev := &lines[k.rec.line].Events[pos[i]]
			*ev = capture.Event{Start: k.rec.start, Dur: k.rec.dur, Self: k.self}
			if err := ld.Load(k.rec.ref, ev); err != nil {
				return fmt.Errorf("trim: load kept event at byte %d: %w", k.rec.ref.Off, err)
			}
			ev.Start, ev.Dur, ev.Self = k.rec.start, k.rec.dur, k.self
			in.event(ev)
		}
		return nil
	}
	f, ok := rp.ld.(Forker)
	if !ok || len(kept) < minForkLoads {
		return run(rp.ld, 0, len(kept))
	}
	mid := len(kept) / 2
	var wg sync.WaitGroup
	var err2 error
	wg.Go(func() { err2 = run(f.Fork(), mid, len(kept)) })
	err := run(rp.ld, 0, mid)
	wg.Wait()
	if err == nil {
		err = err2
	}
	return err
}
