package tracejson

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file reads PyTorch profiler (kineto) traces as if the TSL profiler had
// written them: kineto names its processes and threads after the OS (and puts
// that metadata at the end of the file), so its events are placed by their
// category instead.
//
//   - kernel, gpu_memcpy, gpu_memset (older Kernel, Memcpy, Memset): a device
//     op on /device:GPU:<args.device, else pid>, line Stream #<args.stream,
//     else tid>;
//   - gpu_user_annotation and cuda_sync: the same device plane, on the overlay
//     lines "GPU annotations" and "GPU syncs";
//   - Trace: the profiling session, not an event;
//   - anything else: /host:CPU, one line per (pid, tid), named by the
//     thread_name metadata.
//
// A device op's framework op is the innermost cpu_op (older Operator) on the
// launching thread whose interval holds the whole launch: the cuda_runtime or
// cuda_driver (older Runtime) event with the op's correlation id.

// Line names of kineto's GPU overlay lines.
const (
	GPUAnnotationsLine = "GPU annotations"
	GPUSyncsLine       = "GPU syncs"
)

// kind is what an event's category makes of it.
type kind uint8

const (
	kindOther      kind = iota // a category kineto does not use: not a kineto trace by itself
	kindHost                   // a kineto host event
	kindCPUOp                  // a framework op on the host (cpu_op)
	kindLaunch                 // a runtime call that may launch device work
	kindDevice                 // a device op
	kindAnnotation             // a GPU user annotation
	kindSync                   // a GPU sync
	kindSession                // the profiling session
)

// kinetoCats maps kineto's categories, lower-cased, to what they are.
var kinetoCats = map[string]kind{
	"kernel":              kindDevice,
	"gpu_memcpy":          kindDevice,
	"gpu_memset":          kindDevice,
	"memcpy":              kindDevice,
	"memset":              kindDevice,
	"gpu_user_annotation": kindAnnotation,
	"cuda_sync":           kindSync,
	"trace":               kindSession,
	"cpu_op":              kindCPUOp,
	"operator":            kindCPUOp,
	"cuda_runtime":        kindLaunch,
	"cuda_driver":         kindLaunch,
	"runtime":             kindLaunch,
	"user_annotation":     kindHost,
	"python_function":     kindHost,
	"fwdbwd":              kindHost,
	"ac2g":                kindHost,
	"overhead":            kindHost,
	"cpu_instant_event":   kindHost,
	"python":              kindHost,
}

// kinetoKind returns what the category of the X event just parsed makes of
// it, and turns on kineto reading at the first category that only kineto
// uses.
func (w *walker) kinetoKind(b []byte) (kind, error) {
	f := &w.f
	if !f.cat.ok() {
		return kindHost, nil
	}
	cat := b[f.cat.s:f.cat.e]
	if f.catEsc {
		var ok bool
		if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], cat); !ok {
			return 0, w.errAt(f.cat.s, ErrMalformed, "bad escape in cat")
		}
		cat = w.keyBuf
	}
	var low [24]byte
	if len(cat) > len(low) {
		if w.kineto != nil {
			return kindHost, nil
		}
		return kindOther, nil
	}
	for i, c := range cat {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	k, ok := kinetoCats[string(low[:len(cat)])]
	switch {
	case k == kindSession:
		// Not kineto's alone: fleetprof's own JSON marks the session so.
	case ok && w.kineto == nil:
		w.kineto = newKineto()
	case !ok && w.kineto != nil:
		k = kindHost
	}
	return k, nil
}

// kineto is the state of reading a kineto trace.
type kineto struct {
	planes map[string]*proc // by plane name
	host   map[[2]int64]*thread
	names  map[[2]int64]string // thread_name metadata by (pid, tid)

	opNames            []string
	opIndex            map[string]int32
	cpuOps             map[[2]int64][]cpuOp
	launches           map[int64]launch
	deviceOps          []deviceOp
	nextPlane, nextTID int64
}

type cpuOp struct {
	start, end int64
	name       int32
}

type launch struct {
	thread     [2]int64
	start, end int64
}

type deviceOp struct {
	off  int64 // the event's Ref.Off
	corr int64
}

func newKineto() *kineto {
	return &kineto{
		planes:   make(map[string]*proc),
		host:     make(map[[2]int64]*thread),
		names:    make(map[[2]int64]string),
		opIndex:  make(map[string]int32),
		cpuOps:   make(map[[2]int64][]cpuOp),
		launches: make(map[int64]launch),
	}
}

// threadName notes a thread_name and renames the host line it names if that
// was declared already.
func (k *kineto) threadName(w *walker, pid, tid int64, name string) {
	key := [2]int64{pid, tid}
	k.names[key] = name
	if t := k.host[key]; t != nil && t.name != name {
		if !w.rename(k.planes[capture.HostPlaneName].idx, t.idx, name) {
			w.stats.LateMetadata++
			return
		}
		t.name = name
	}
}

// plane returns the plane with the given name, declaring it if new.
func (k *kineto) plane(w *walker, name string) *proc {
	p := k.planes[name]
	if p == nil {
		p = &proc{pid: k.nextPlane, name: name, threads: make(map[int64]*thread)}
		k.nextPlane++
		p.idx = w.v.Plane(capture.PlaneInfo{ID: p.pid, Name: name})
		k.planes[name] = p
	}
	return p
}

// line returns the named line of a device plane, declaring it if new.
func (k *kineto) line(w *walker, p *proc, name string, displayID int64) *thread {
	for _, t := range p.order {
		if t.name == name {
			return t
		}
	}
	t := &thread{tid: displayID, name: name}
	t.idx = w.v.Line(p.idx, capture.LineInfo{ID: int64(len(p.order)), DisplayID: displayID, Name: name})
	p.order = append(p.order, t)
	return t
}

// hostLine returns the host line of (pid, tid), declaring it if new.
func (k *kineto) hostLine(w *walker, pid, tid int64) (*proc, *thread) {
	p := k.plane(w, capture.HostPlaneName)
	key := [2]int64{pid, tid}
	if t := k.host[key]; t != nil {
		return p, t
	}
	name, ok := k.names[key]
	if !ok {
		// Named before kineto reading began (names that come first)?
		if pp := w.procs[pid]; pp != nil && pp.threads[tid] != nil && pp.threads[tid].name != "" {
			name = pp.threads[tid].name
		} else {
			name = "thread " + w.idName(tid)
		}
	}
	t := &thread{tid: tid, name: name}
	t.idx = w.v.Line(p.idx, capture.LineInfo{ID: int64(len(p.order)), DisplayID: tid, Name: name})
	p.order = append(p.order, t)
	k.host[key] = t
	return p, t
}

// kinetoEvent places one X event of a kineto trace.
func (w *walker) kinetoEvent(b []byte, start, end int, pid, tid int64, kd kind) error {
	k := w.kineto
	rel, dur, err := w.times(b, start)
	if err != nil {
		return err
	}
	var p *proc
	var t *thread
	switch kd {
	case kindDevice, kindAnnotation, kindSync:
		a, err := w.deviceArgs(b)
		if err != nil {
			return err
		}
		dev := deviceNumber(w.idName(pid))
		if a.device != "" {
			dev = a.device
		}
		p = k.plane(w, "/device:GPU:"+dev)
		switch kd {
		case kindAnnotation:
			t = k.line(w, p, GPUAnnotationsLine, -1)
		case kindSync:
			t = k.line(w, p, GPUSyncsLine, -2)
		default:
			stream, sid := w.idName(tid), tid
			if a.stream != "" {
				stream = a.stream
				if n, ok := parseID([]byte(a.stream)); ok {
					sid = n
				}
			}
			t = k.line(w, p, "Stream #"+stream, sid)
			if a.hasCorr {
				k.deviceOps = append(k.deviceOps, deviceOp{off: w.off + int64(start), corr: a.corr})
			}
		}
	default:
		p, t = k.hostLine(w, pid, tid)
		switch kd {
		case kindCPUOp:
			name := string(w.eventName(b))
			id, ok := k.opIndex[name]
			if !ok {
				id = int32(len(k.opNames))
				k.opIndex[name] = id
				k.opNames = append(k.opNames, name)
			}
			key := [2]int64{pid, tid}
			k.cpuOps[key] = append(k.cpuOps[key], cpuOp{start: rel, end: rel + dur, name: id})
		case kindLaunch:
			a, err := w.deviceArgs(b)
			if err != nil {
				return err
			}
			if a.hasCorr {
				k.launches[a.corr] = launch{thread: [2]int64{pid, tid}, start: rel, end: rel + dur}
			}
		}
	}
	return w.visit(b, start, end, p.idx, t.idx, rel, dur)
}

// eventName returns the raw name of the event just parsed (escapes kept).
func (w *walker) eventName(b []byte) []byte {
	f := &w.f
	if !f.name.ok() {
		return nil
	}
	name := b[f.name.s:f.name.e]
	if f.nameEsc {
		if u, ok := appendUnescaped(nil, name); ok {
			return u
		}
	}
	return name
}

// kinetoArgs are the args a kineto device op or launch is placed by.
type kinetoArgs struct {
	device, stream string
	corr           int64
	hasCorr        bool
}

// deviceArgs reads args.device, args.stream and args.correlation of the
// event just parsed.
func (w *walker) deviceArgs(b []byte) (kinetoArgs, error) {
	var a kinetoArgs
	sp := w.f.args
	if !sp.ok() || b[sp.s] != '{' {
		return a, nil
	}
	_, err := w.members(b[:sp.e], sp.s, 1, func(key []byte, vs, ve int) error {
		switch string(key) {
		case "device", "stream":
			v := bytes.Trim(b[vs:ve], `"`)
			if string(key) == "device" {
				a.device = string(v)
			} else {
				a.stream = string(v)
			}
		case "correlation":
			if n, err := strconv.ParseInt(string(bytes.Trim(b[vs:ve], `"`)), 10, 64); err == nil {
				a.corr, a.hasCorr = n, true
			}
		}
		return nil
	})
	return a, err
}

// session notes the profiling session: an X event whose category is Trace
// (kineto's "PyTorch Profiler (0)", or the session fleetprof's own JSON
// writes). The first one counts; it is not an event.
func (w *walker) session(b []byte) error {
	f := &w.f
	if w.sess.ok {
		return nil
	}
	if !f.ts.ok() {
		return w.errAt(f.cat.s, ErrBadTime, "session (Trace) event without ts")
	}
	us, ps, err := w.timeField(b, f.ts, f.tsEsc, "ts")
	if err != nil {
		return err
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
	w.sess = sessionMark{ok: true, us: us, ps: ps, dur: dur}
	return nil
}

// sessionMark is the profiling session as read: absolute µs and the ps past
// them, and its length in ps.
type sessionMark struct {
	ok          bool
	us, ps, dur int64
}

// reportSession tells the visitor the session, relative to the base, if
// both are known and the session lies within reach of the base.
func (w *walker) reportSession() {
	if !w.sess.ok || !w.haveBase {
		return
	}
	d := w.sess.us - w.baseUS
	if d > maxRelUS || d < -maxRelUS {
		return
	}
	if sv, ok := w.v.(capture.SessionVisitor); ok {
		start := d*psPerUS + w.sess.ps
		sv.Session(start, start+w.sess.dur)
	}
}

// finish works out each device op's framework op, keyed by the op's byte
// offset.
func (k *kineto) finish() map[int64]string {
	if len(k.deviceOps) == 0 {
		return nil
	}
	// Per thread: cpu ops sorted by start, longest first, with the index of
	// each one's parent (the innermost op that holds it), so the innermost op
	// holding a launch is on the parent chain of the last op starting at or
	// before it.
	type tree struct {
		ops    []cpuOp
		parent []int
	}
	trees := make(map[[2]int64]*tree, len(k.cpuOps))
	for key, ops := range k.cpuOps {
		slices.SortFunc(ops, func(a, b cpuOp) int {
			if c := cmp.Compare(a.start, b.start); c != 0 {
				return c
			}
			return cmp.Compare(b.end, a.end)
		})
		parent := make([]int, len(ops))
		var stack []int
		for i, op := range ops {
			for len(stack) > 0 && ops[stack[len(stack)-1]].end <= op.start {
				stack = stack[:len(stack)-1]
			}
			parent[i] = -1
			if len(stack) > 0 {
				parent[i] = stack[len(stack)-1]
			}
			stack = append(stack, i)
		}
		trees[key] = &tree{ops: ops, parent: parent}
	}
	out := make(map[int64]string, len(k.deviceOps))
	for _, d := range k.deviceOps {
		l, ok := k.launches[d.corr]
		if !ok {
			continue
		}
		tr := trees[l.thread]
		if tr == nil {
			continue
		}
		i, _ := slices.BinarySearchFunc(tr.ops, l.start, func(op cpuOp, t int64) int {
			if op.start <= t {
				return -1
			}
			return 1
		})
		for i--; i >= 0; i = tr.parent[i] {
			if op := tr.ops[i]; op.start <= l.start && l.end <= op.end {
				out[d.off] = k.opNames[op.name]
				break
			}
		}
	}
	return out
}

// deviceNumber returns the number a pid names a GPU by: the pid itself, or
// the digits that end a string pid ("GPU 3" → "3"); a string without them
// stays as it is.
func deviceNumber(pid string) string {
	i := len(pid)
	for i > 0 && pid[i-1] >= '0' && pid[i-1] <= '9' {
		i--
	}
	if i == len(pid) || (i > 0 && pid[i-1] == '-') {
		return pid
	}
	return pid[i:]
}
