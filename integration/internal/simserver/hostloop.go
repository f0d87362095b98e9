package simserver

import (
	"strconv"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// traced is one python-tracer event of a template, at an offset from the
// template's start.
type traced struct {
	name     string
	off, dur int64 // ns
}

// idleIteration is one turn of the idle sglang-jax scheduler's event loop
// as the python tracer records it (from the seed run's host trace):
// properly nested, 21 events in about 21.6 µs.
var idleIteration = []traced{
	{"$scheduler.py:645 recv_requests", 0, 17470},
	{"$socket.py:961 recv_pyobj", 13, 7890},
	{"$error.py:120 __init__", 26, 3100},
	{"$error.py:45 __init__", 39, 1770},
	{"$sys _getframe", 52, 70},
	{"$builtins hasattr", 135, 110},
	{"$_zmq.py:1403 zmq.backend.cython._zmq._recv_copy", 3139, 226},
	{"$_zmq.py:183 zmq.backend.cython._zmq._check_rc", 3378, 231},
	{"$socket.py:961 recv_pyobj", 7916, 7890},
	{"$error.py:120 __init__", 7929, 3100},
	{"$error.py:45 __init__", 7942, 1770},
	{"$sys _getframe", 7955, 70},
	{"$builtins hasattr", 8038, 110},
	{"$_zmq.py:1403 zmq.backend.cython._zmq._recv_copy", 11042, 226},
	{"$_zmq.py:183 zmq.backend.cython._zmq._check_rc", 11281, 231},
	{"$scheduler.py:670 process_input_requests", 17483, 1074},
	{"$builtins isinstance", 17496, 75},
	{"$scheduler.py:1025 check_memory", 18570, 1898},
	{"$scheduler.py:1069 _get_token_info", 18583, 791},
	{"$scheduler.py:1096 get_next_batch_to_run", 20481, 1123},
	{"$<frozen importlib._bootstrap>:1390 _handle_fromlist", 20494, 700},
}

// stepPython is the python tracer's view of launching a forward step,
// starting 2 µs into run_batch.
var stepPython = []traced{
	{"$scheduler.py:568 run_batch", 0, 9000},
	{"$tp_worker_overlap_thread.py:111 forward_batch_generation", 13, 7000},
	{"$model_runner.py:402 forward", 26, 5200},
	{"$builtins isinstance", 39, 80},
	{"$pjit.py:337 cache_miss", 132, 3900},
	{"$pjit.py:190 _python_pjit_helper", 145, 2100},
	{"$api_util.py:611 _check_arg", 158, 300},
	{"$builtins hasattr", 471, 90},
	{"$dispatch.py:88 apply_primitive", 2258, 900},
	{"$schedule_batch.py:1210 get_model_worker_batch", 5239, 600},
	{"$sampler.py:61 __call__", 7026, 1400},
	{"$builtins isinstance", 7039, 70},
}

const (
	// idleLength is how long one idle iteration lasts.
	idleLength = 21604 * capture.Nanosecond
	// idlePeriod is how often the idle loop turns, as in the seed run.
	idlePeriod = 297650 * capture.Nanosecond
	// idleFirst is where the first iteration starts.
	idleFirst = 1013 * capture.Nanosecond
	// maxIdleIterations bounds the loop's events: a long profile spreads
	// its iterations out instead of growing without bound (a 6 s profile
	// keeps the seed's density; 20,000 iterations are 420,000 events).
	maxIdleIterations = 20000
)

// appendIdleLoop appends the idle loop's events over [0, end), skipping
// the iterations that would meet a busy interval (sorted by start).
func appendIdleLoop(evs []capture.Event, end int64, busy []capture.Interval) []capture.Event {
	period := max(idlePeriod, end/maxIdleIterations)
	b := 0
	for t := idleFirst; t+idleLength <= end; t += period {
		it := capture.Interval{Start: t, End: t + idleLength}
		for b < len(busy) && busy[b].End < it.Start {
			b++
		}
		if b < len(busy) && busy[b].Meets(it) {
			continue
		}
		for _, e := range idleIteration {
			evs = append(evs, capture.Event{Name: e.name, Start: t + e.off*capture.Nanosecond, Dur: e.dur * capture.Nanosecond})
		}
	}
	return evs
}

// appendStepHost appends the host's events of a forward step at t0 lasting
// length, whose device work ends deviceEnd after t0: the run_batch,
// forward_batch_generation and process_batch_result annotations (host
// tracer) and the python frames launching the step (python tracer).
func appendStepHost(evs []capture.Event, lv levels, t0, length, deviceEnd int64, st stepRec) []capture.Event {
	us := capture.Microsecond
	if lv.host >= 1 {
		fwdEnd := t0 + deviceEnd + 5*us
		evs = append(evs,
			capture.Event{Name: "run_batch", Start: t0, Dur: length,
				Stats: []capture.Stat{{Name: "batch_size", Kind: capture.StatInt, Int: int64(st.shape.batch())}}},
			capture.Event{Name: "forward_batch_generation " + strconv.FormatInt(st.seq, 10), Start: t0 + us, Dur: fwdEnd - (t0 + us)},
			capture.Event{Name: "process_batch_result", Start: fwdEnd + 5*us, Dur: t0 + length - 5*us - (fwdEnd + 5*us)},
		)
	}
	if lv.python >= 1 {
		at := t0 + 2*us
		for _, e := range stepPython {
			evs = append(evs, capture.Event{Name: e.name, Start: at + e.off*capture.Nanosecond, Dur: e.dur * capture.Nanosecond})
		}
	}
	return evs
}
