package gen

import (
	"fmt"
	"slices"
)

// plane is one XPlane / trace JSON process.
type plane struct {
	id     int64  // XPlane id
	pid    int64  // trace JSON pid
	name   string // "/device:TPU:0", "/host:CPU"
	device int    // device index, or -1 for the host
	lines  []line
	metas  []meta // XEventMetadata; id = index+1
	// stats names the XStatMetadata (id = index+1): the stat keys first,
	// then the strings interned for ref_value.
	stats []string
}

// line is one XLine / trace JSON thread.
type line struct {
	id   int64 // XLine id and display_id, the JSON tid
	name string
	sort int64 // the JSON thread_sort_index
}

// meta is one XEventMetadata: a name, a display name (the JSON long_name)
// and the stats every event of its kind shares.
type meta struct {
	name, display string
	stats         []stat
}

// statKind says which XStat value a stat has.
type statKind uint8

const (
	kindStr statKind = iota
	kindRef          // ref_value: the name of stats[ref]
	kindInt
	kindUint
)

// stat is one XStat.
type stat struct {
	key  int // index into plane.stats
	kind statKind
	str  string
	ref  int
	i    int64
	u    uint64
}

// Stat keys of a device plane, indexes into plane.stats.
const (
	devRunID = iota
	devHLOCategory
	devTfOp
	devFlops
	devBytes
	devFirstInterned
)

// Stat keys of the host plane.
const (
	hostBatchSize = 0
)

// Lines of a device plane.
const (
	lineModules = 0
	lineOps     = 1
)

// Lines of the host plane.
const (
	lineWait1 = iota
	lineWait2
	lineScheduler
)

// HostPlaneID is the host plane's XPlane id; its JSON pid is 701.
const hostPlaneID = 700

func (c *Capture) newPlanes() []plane {
	var out []plane
	for d := range c.cfg.Devices {
		out = append(out, c.devicePlane(d))
	}
	return append(out, c.hostPlane())
}

// devicePlane describes /device:TPU:d: ops first (meta index = op index),
// then one meta per module (meta index = len(ops) + module index).
func (c *Capture) devicePlane(d int) plane {
	p := plane{
		id: int64(d), pid: int64(d) + 1, name: fmt.Sprintf("/device:TPU:%d", d), device: d,
		lines: []line{{id: 2, name: "XLA Modules", sort: 2}, {id: 3, name: "XLA Ops", sort: 3}},
		stats: []string{"run_id", "hlo_category", "tf_op", "flops", "bytes_accessed"},
	}
	interned := map[string]int{}
	for i := range c.ops {
		o := &c.ops[i]
		ref, ok := interned[o.category]
		if !ok {
			ref = len(p.stats)
			interned[o.category] = ref
			p.stats = append(p.stats, o.category)
		}
		m := meta{name: o.name, display: o.long}
		m.stats = append(m.stats, stat{key: devHLOCategory, kind: kindRef, ref: ref})
		if tf := o.tfOp(); tf != "" {
			m.stats = append(m.stats, stat{key: devTfOp, kind: kindStr, str: tf})
		}
		if o.flops > 0 {
			m.stats = append(m.stats, stat{key: devFlops, kind: kindUint, u: o.flops})
		}
		if o.bytes > 0 {
			m.stats = append(m.stats, stat{key: devBytes, kind: kindUint, u: o.bytes})
		}
		p.metas = append(p.metas, m)
	}
	for _, m := range c.prog.modules {
		p.metas = append(p.metas, meta{name: m.name})
	}
	return p
}

// Host event names, indexes into the host plane's metas.
const (
	hWait637 = iota
	hWait323
	hRecvRequests
	hRecvPyobj
	hError120
	hError45
	hGetframe
	hHasattr
	hRecvCopy
	hCheckRC
	hProcessInput
	hIsinstance
	hCheckMemory
	hGetTokenInfo
	hNextBatch
	hHandleFromlist
	hRunBatch
	hRunBatchPy
	hFBGPy
	hForward
	hCacheMiss
	hPjitHelper
	hCheckArg
	hApplyPrimitive
	hWorkerBatch
	hSamplerCall
	hProcessResult
	hForwardBatch // + step: "forward_batch_generation <step>"
)

var hostNames = [...]string{
	hWait637:        "$threading.py:637 wait",
	hWait323:        "$threading.py:323 wait",
	hRecvRequests:   "$scheduler.py:645 recv_requests",
	hRecvPyobj:      "$socket.py:961 recv_pyobj",
	hError120:       "$error.py:120 __init__",
	hError45:        "$error.py:45 __init__",
	hGetframe:       "$sys _getframe",
	hHasattr:        "$builtins hasattr",
	hRecvCopy:       "$_zmq.py:1403 zmq.backend.cython._zmq._recv_copy",
	hCheckRC:        "$_zmq.py:183 zmq.backend.cython._zmq._check_rc",
	hProcessInput:   "$scheduler.py:670 process_input_requests",
	hIsinstance:     "$builtins isinstance",
	hCheckMemory:    "$scheduler.py:1025 check_memory",
	hGetTokenInfo:   "$scheduler.py:1069 _get_token_info",
	hNextBatch:      "$scheduler.py:1096 get_next_batch_to_run",
	hHandleFromlist: "$<frozen importlib._bootstrap>:1390 _handle_fromlist",
	hRunBatch:       "run_batch",
	hRunBatchPy:     "$scheduler.py:568 run_batch",
	hFBGPy:          "$tp_worker_overlap_thread.py:111 forward_batch_generation",
	hForward:        "$model_runner.py:402 forward",
	hCacheMiss:      "$pjit.py:337 cache_miss",
	hPjitHelper:     "$pjit.py:190 _python_pjit_helper",
	hCheckArg:       "$api_util.py:611 _check_arg",
	hApplyPrimitive: "$dispatch.py:88 apply_primitive",
	hWorkerBatch:    "$schedule_batch.py:1210 get_model_worker_batch",
	hSamplerCall:    "$sampler.py:61 __call__",
	hProcessResult:  "process_batch_result",
}

// hostPlane describes /host:CPU: two threads waiting and the scheduler.
func (c *Capture) hostPlane() plane {
	p := plane{
		id: hostPlaneID, pid: 701, name: "/host:CPU", device: -1,
		lines: []line{{id: 100, name: "Thread-1", sort: 1}, {id: 101, name: "Thread-2", sort: 2}, {id: 102, name: "python3", sort: 3}},
		stats: []string{"batch_size"},
	}
	for _, n := range hostNames {
		p.metas = append(p.metas, meta{name: n})
	}
	for s := range len(c.steps) {
		p.metas = append(p.metas, meta{name: fmt.Sprintf("forward_batch_generation %d", s)})
	}
	return p
}

// planeOrder returns the plane indexes in the order the JSON writes them.
func (c *Capture) planeOrder(o Order) []int {
	idx := make([]int, len(c.planes))
	for i := range idx {
		idx[i] = i
	}
	if o == HostFirst {
		host := idx[len(idx)-1]
		idx = append([]int{host}, idx[:len(idx)-1]...)
	}
	return slices.Clip(idx)
}
