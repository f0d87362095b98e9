package gen

// The scheduler's python thread, as the python tracer records it: nested
// calls, in nanoseconds, timed like the seed replica's (measured on a real
// sglang-jax server) with some jitter.

// tnode is one call of a template, in preorder.
type tnode struct {
	name   int   // host meta index
	parent int   // index of the enclosing call, -1 at the top
	gap    int64 // ns before the call: after the parent's start for a first child, else after the previous sibling's end
	dur    int64 // ns, for a leaf; a call's duration is its children's plus tail
	tail   int64 // ns after the last child
	total  int64 // the nominal duration, ns
}

// template is a tree of calls.
type template struct {
	nodes []tnode
}

// sum fills each call's nominal total and returns the template.
func (t template) sum() template {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		nd := &t.nodes[i]
		nd.total += nd.dur + nd.tail
		if nd.parent >= 0 {
			t.nodes[nd.parent].total += nd.gap + nd.total
		}
	}
	return t
}

// builder helps writing templates.
type builder struct{ t template }

// call adds a call under parent and returns its index.
func (b *builder) call(parent, name int, gap, dur, tail int64) int {
	b.t.nodes = append(b.t.nodes, tnode{name: name, parent: parent, gap: gap, dur: dur, tail: tail})
	return len(b.t.nodes) - 1
}

// idleIteration is one turn of the scheduler's event loop with nothing to
// do: recv_requests (with n recv_pyobj), process_input_requests,
// check_memory, get_next_batch_to_run: 7n+7 calls.
func idleIteration(n int) template {
	var b builder
	rr := b.call(-1, hRecvRequests, 0, 0, 1664)
	for range n {
		rp := b.call(rr, hRecvPyobj, 13, 0, 4294)
		e120 := b.call(rp, hError120, 13, 0, 1317)
		e45 := b.call(e120, hError45, 13, 0, 1564)
		b.call(e45, hGetframe, 13, 70, 0)
		b.call(e45, hHasattr, 13, 110, 0)
		b.call(rp, hRecvCopy, 13, 226, 0)
		b.call(rp, hCheckRC, 13, 231, 0)
	}
	pi := b.call(-1, hProcessInput, 13, 0, 986)
	b.call(pi, hIsinstance, 13, 75, 0)
	cm := b.call(-1, hCheckMemory, 13, 0, 1094)
	b.call(cm, hGetTokenInfo, 13, 791, 0)
	nb := b.call(-1, hNextBatch, 13, 0, 410)
	b.call(nb, hHandleFromlist, 13, 700, 0)
	return b.t.sum()
}

// dispatch is how the scheduler launches a step: three run_batch calls
// down to jax's dispatch, 12 calls each.
func dispatch() template {
	var b builder
	for range 3 {
		rb := b.call(-1, hRunBatchPy, 14, 0, 573)
		fb := b.call(rb, hFBGPy, 14, 0, 1175)
		fw := b.call(fb, hForward, 13, 0, 1194)
		b.call(fw, hIsinstance, 13, 80, 0)
		cm := b.call(fw, hCacheMiss, 13, 0, 874)
		ph := b.call(cm, hPjitHelper, 12, 0, 1683)
		b.call(ph, hCheckArg, 14, 300, 0)
		b.call(ph, hHasattr, 13, 90, 0)
		b.call(cm, hApplyPrimitive, 14, 900, 0)
		b.call(fb, hWorkerBatch, 12, 600, 0)
		sc := b.call(rb, hSamplerCall, 13, 0, 1317)
		b.call(sc, hIsinstance, 13, 70, 0)
	}
	return b.t.sum()
}

var (
	// idleTemplates by variant: the usual two recv_pyobj, one, or three.
	idleTemplates = [3]template{idleIteration(2), idleIteration(1), idleIteration(3)}
	dispatchTmpl  = dispatch()
)

// stepHostEvents counts the scheduler's events per step: run_batch,
// forward_batch_generation <n>, the dispatch calls and process_batch_result.
var stepHostEvents = int64(3 + len(dispatchTmpl.nodes))

// idlePeriod is the loop's nominal period.
const idlePeriod = 297650 * nsec

// scratch holds one template's computed times.
type scratch struct {
	start, dur []int64
	end        []int64 // per node: end of its last child so far
}

func (s *scratch) reset(n int) {
	s.start = s.start[:0]
	s.dur = s.dur[:0]
	s.end = s.end[:0]
	for range n {
		s.start = append(s.start, 0)
		s.dur = append(s.dur, 0)
		s.end = append(s.end, 0)
	}
}

// jitterNS returns a nominal time in ns, as ps, as one call of it took:
// usually the nominal, sometimes 1 % either side or 5 % more, now and then
// up to twice as long. The few values keep the JSON as compressible as
// real python-tracer output (about 20:1).
func (c *Capture) jitterNS(nominal int64, a, b, k uint64) int64 {
	if nominal == 0 {
		return 0
	}
	h := c.hash(streamHostDur, a, b, k)
	d := nominal
	switch r := h % 40; {
	case r < 34:
	case r < 36:
		d += max(nominal/100, 1)
	case r < 38:
		d -= max(nominal/100, 1)
	case r < 39:
		d += max(nominal/20, 2)
	default:
		d += int64((h >> 8) % uint64(nominal+1))
	}
	return max(d, 1) * nsec
}

// lay computes the times of a template's calls, the first starting at t,
// and returns where the last top-level call ends. a and b name the
// template's instance for the random numbers.
func (c *Capture) lay(t *template, at int64, a, b uint64, s *scratch) int64 {
	n := len(t.nodes)
	s.reset(n)
	// Durations, bottom up: each call takes about its nominal time, and at
	// least what its children need. s.end holds the children's extent.
	for i := n - 1; i >= 0; i-- {
		nd := &t.nodes[i]
		s.dur[i] = max(c.jitterNS(nd.total, a, b, uint64(i)), s.end[i]+nd.tail/4*nsec)
		if nd.parent >= 0 {
			s.end[nd.parent] += nd.gap*nsec + s.dur[i]
		}
	}
	clear(s.end)
	// Starts, top down.
	last := at
	for i := range n {
		nd := &t.nodes[i]
		if nd.parent < 0 {
			s.start[i] = last + nd.gap*nsec
			last = s.start[i] + s.dur[i]
			continue
		}
		p := nd.parent
		if s.end[p] == 0 {
			s.start[i] = s.start[p] + nd.gap*nsec
		} else {
			s.start[i] = s.end[p] + nd.gap*nsec
		}
		s.end[p] = s.start[i] + s.dur[i]
	}
	return last
}

// hostThread walks the scheduler thread's events in time order, calling
// emit for each, and returns the end of its last event. With plan set it
// records each step's start in c.steps.
func (c *Capture) hostThread(emit func(*event) error, plan bool) (int64, error) {
	host := len(c.planes) - 1
	ev := event{plane: host, line: lineScheduler, stat: -1}
	var s scratch
	t := 1013 * nsec
	end := t
	var idle int64
	burst, step := 0, 0
	ends := make([]int64, c.cfg.Devices)
	for iter := uint64(0); ; {
		if burst < len(c.burstAt) && idle >= c.burstAt[burst] {
			for range c.stepsPerBurst {
				var err error
				t, err = c.hostStep(step, t, &s, &ev, ends, emit, plan)
				if err != nil {
					return 0, err
				}
				end = max(end, t)
				step++
				t += c.betweenNS(40*usec, 250*usec, streamStep, uint64(step), 1, 0)
			}
			burst++
			continue
		}
		if idle >= c.idleEvents {
			break
		}
		v := 0
		if h := c.hash(streamVariant, iter, 0, 0) % 20; h >= 18 {
			v = 1 + int(h-18)
		}
		tm := &idleTemplates[v]
		c.lay(tm, t, iter, 0, &s)
		n := min(int64(len(tm.nodes)), c.idleEvents-idle)
		for i := range n {
			ev.meta, ev.start, ev.dur = tm.nodes[i].name, s.start[i], s.dur[i]
			end = max(end, ev.start+ev.dur)
			if err := emit(&ev); err != nil {
				return 0, err
			}
		}
		idle += n
		// The loop's period: the usual, or up to a quarter more.
		t += idlePeriod + c.between(-2, idlePeriod/4/usec, streamPeriod, iter, 0, 0)*usec
		iter++
	}
	return end, nil
}

// hostStep emits one step's host events starting at t: run_batch (from
// dispatch until every device has finished, plus a little), around
// forward_batch_generation <step> and the dispatch calls, then
// process_batch_result. It returns the end of process_batch_result.
func (c *Capture) hostStep(step int, t int64, s *scratch, ev *event, ends []int64,
	emit func(*event) error, plan bool) (int64, error) {
	st := uint64(step)
	callsEnd := c.lay(&dispatchTmpl, t+2*usec, st, 1, s)
	devStart := callsEnd + c.between(15*usec, 35*usec, streamStep, st, 2, 0)
	if plan {
		c.steps[step] = stepPlan{run: 1000 + int64(step), start: devStart}
	}
	last := int64(0)
	for d := range ends {
		last = max(last, c.deviceEnd(step, d, devStart))
	}
	runEnd := (last+c.between(5*usec, 15*usec, streamStep, st, 3, 0))/nsec*nsec + nsec
	out := []struct {
		meta       int
		start, end int64
		batch      int64
	}{
		{hRunBatch, t, runEnd, 1 + int64(c.hash(streamStep, st, 4, 0)%8)},
		{hForwardBatch + step, t + 1*usec, runEnd - 11*usec, -1},
	}
	for _, o := range out {
		ev.meta, ev.start, ev.dur = o.meta, o.start, o.end-o.start
		ev.stat, ev.val = -1, 0
		if o.batch >= 0 {
			ev.stat, ev.val = hostBatchSize, o.batch
		}
		if err := emit(ev); err != nil {
			return 0, err
		}
	}
	ev.stat, ev.val = -1, 0
	for i := range dispatchTmpl.nodes {
		ev.meta, ev.start, ev.dur = dispatchTmpl.nodes[i].name, s.start[i], s.dur[i]
		if err := emit(ev); err != nil {
			return 0, err
		}
	}
	ev.meta = hProcessResult
	ev.start = runEnd + c.jitterNS(2000, st, 5, 0)
	ev.dur = c.jitterNS(9000, st, 5, 1)
	if err := emit(ev); err != nil {
		return 0, err
	}
	return ev.start + ev.dur, nil
}
