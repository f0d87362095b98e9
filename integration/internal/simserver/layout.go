package simserver

import (
	"math/rand/v2"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// stepKind says what a forward step computes.
type stepKind uint8

// The kinds of forward step.
const (
	// prefill runs the whole op table once (one /v1/score request, or the
	// first step of a /generate).
	prefill stepKind = iota
	// decode runs the op table with each op a quarter as long.
	decode
)

func (k stepKind) String() string {
	if k == decode {
		return "decode"
	}
	return "prefill"
}

// Timing of a forward step, around its device burst.
const (
	// hostBefore is the host's time from run_batch to the device burst.
	hostBefore = 60 * capture.Microsecond
	// hostAfter is the host's time from the burst's end to run_batch's end
	// (process_batch_result).
	hostAfter = 40 * capture.Microsecond
	// minGap and maxGap bound the idle gaps between ops of a burst.
	minGap = 100 * capture.Nanosecond
	maxGap = 1200 * capture.Nanosecond
	// deviceSkew is how much later each further device starts its burst.
	deviceSkew = 250 * capture.Nanosecond
)

// placedOp is one op event of a burst.
type placedOp struct {
	// op indexes opTable.ops.
	op int
	// off is the event's start from the burst's start; dur its length (ps).
	off, dur int64
}

// burst lays out the op events of forward step seq of shape sh: every
// occurrence of every op, each as long as the cost model says (cost.go), in
// an order and with gaps drawn from seed and seq, so the same step always
// looks the same. It returns the events and the burst's length.
func (t *opTable) burst(seed uint64, seq int64, kind stepKind, sh shape) ([]placedOp, int64) {
	rng := rand.New(rand.NewPCG(seed, uint64(seq)))
	out := make([]placedOp, 0, t.events)
	for i := range t.ops {
		o := &t.ops[i]
		for k := range o.occurrences {
			out = append(out, placedOp{op: i, dur: modelDur(o.occurrenceDur(k), o.class, kind, sh)})
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	var at int64
	for i := range out {
		if i > 0 {
			at += minGap + rng.Int64N(maxGap-minGap)
		}
		out[i].off = at
		at += out[i].dur
	}
	return out, at
}

// stepLength returns how long a forward step of seq and shape sh keeps the
// host busy, from run_batch's start to its end on the first device.
func (t *opTable) stepLength(seed uint64, seq int64, kind stepKind, sh shape, devices int) int64 {
	_, n := t.burst(seed, seq, kind, sh)
	return hostBefore + n + int64(max(devices-1, 0))*deviceSkew + hostAfter
}
