package gen

// event is one X event as the walk makes it. Its fields are valid only
// during the emit call.
type event struct {
	plane, line, meta int
	start, dur        int64 // ps from the capture's start
	stat              int   // index into the plane's stats of the event's own stat, or -1
	val               int64 // that stat's value
}

// walk emits every event, plane by plane in the given order, each plane
// line by line, each line in time order.
func (c *Capture) walk(order []int, emit func(*event) error) error {
	for _, p := range order {
		if err := c.walkPlane(p, emit); err != nil {
			return err
		}
	}
	return nil
}

// walkPlane emits one plane's events.
func (c *Capture) walkPlane(p int, emit func(*event) error) error {
	pl := &c.planes[p]
	if pl.device < 0 {
		return c.walkHost(p, emit)
	}
	ops := make([]interval, c.prog.opsPerStep())
	mods := make([]interval, len(c.prog.modules))
	ev := event{plane: p, stat: devRunID}
	for _, ln := range []int{lineModules, lineOps} {
		ev.line = ln
		for s, sp := range c.steps {
			c.deviceRun(s, pl.device, sp.start, ops, mods)
			ev.val = sp.run
			if ln == lineModules {
				for m, iv := range mods {
					ev.meta, ev.start, ev.dur = len(c.ops)+m, iv.start, iv.dur
					if err := emit(&ev); err != nil {
						return err
					}
				}
				continue
			}
			j := 0
			for _, mod := range c.prog.modules {
				for _, oi := range mod.execs {
					ev.meta, ev.start, ev.dur = oi, ops[j].start, ops[j].dur
					j++
					if err := emit(&ev); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// walkHost emits the host plane's events: the two threads waiting for the
// whole capture, then the scheduler thread.
func (c *Capture) walkHost(p int, emit func(*event) error) error {
	for _, w := range []struct{ line, meta int }{{lineWait1, hWait637}, {lineWait2, hWait323}} {
		ev := event{plane: p, line: w.line, meta: w.meta, start: 0, dur: c.end, stat: -1}
		if err := emit(&ev); err != nil {
			return err
		}
	}
	_, err := c.hostThread(emit, false)
	return err
}
