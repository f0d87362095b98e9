package simserver

import (
	"math"
	"regexp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// The cost model: how long each op of a forward step runs, from the seed
// run's real op statistics and the step's shape.
//
// At the seed request's size (two sequences of five tokens) every op takes
// its seed time: on a real TPU such tiny inputs are bound by launch and
// latency, not by work. Past a knee the work grows: each op class scales its
// seed time by the larger of 1 and its size over the knee's size.
//
//	class       ops (by operation name)              prefill size        decode size
//	attention   FlashAttention, ragged paged attn.   Σ L² / 128²         Σ ctx / 128
//	tokens      the model's other ops (matmuls, …)   Σ L / 128           B / 128
//	sequences   logits processor, sampler            B / 2               B / 2
//	fixed       control flow (while, conditional)    1                   1
//
// L is a sequence's tokens in a prefill step (query and item for /v1/score,
// the prompt for /generate), ctx its context in a decode step (prompt and
// tokens so far), B the sequences in the step. A decode step first takes a
// quarter of each seed time. So from 128 tokens up, attention time grows
// exactly as L² (AttentionExponent) and linearly in the batch, the other
// model ops as L (TokensExponent), and the overheads stay fixed.
const (
	// KneeTokens is the sequence length from which the model's work grows.
	KneeTokens = 128
	// refSequences is the seed request's sequences (two items).
	refSequences = 2
	// AttentionExponent is how attention time grows with a prefill
	// sequence's length past the knee.
	AttentionExponent = 2.0
	// TokensExponent is how the model's other ops grow with it.
	TokensExponent = 1.0
)

// costClass is how an op's time grows with a step's shape.
type costClass uint8

// The cost classes.
const (
	costFixed costClass = iota
	costAttention
	costTokens
	costSequences
)

func (c costClass) String() string {
	return [...]string{"fixed", "attention", "tokens", "sequences"}[c]
}

var (
	attentionName = regexp.MustCompile(`(?i)flash_?attention|paged_attention|\brpa-`)
	sequenceName  = regexp.MustCompile(`(?i)logitsprocessor|sampler`)
)

// classify returns an op's cost class from its framework op.
func classify(o *op) costClass {
	switch {
	case o.typ == "Unknown":
		return costFixed
	case attentionName.MatchString(o.operation):
		return costAttention
	case sequenceName.MatchString(o.operation):
		return costSequences
	}
	return costTokens
}

// shape is what a forward step computes: for a prefill step each
// sequence's tokens, for a decode step each sequence's context.
type shape struct {
	lens []int
}

// seqShape returns the shape of a batch of sequences of the given lengths.
func seqShape(lens ...int) shape { return shape{lens: lens} }

// batch is the number of sequences in the step.
func (sh shape) batch() int { return len(sh.lens) }

// factor is how many times its seed time an op of class c takes in a step
// of kind k and shape sh (before a decode step's quarter); at least 1.
func factor(c costClass, k stepKind, sh shape) float64 {
	knee := float64(KneeTokens)
	var size float64
	switch c {
	case costFixed:
		return 1
	case costSequences:
		size = float64(sh.batch()) / refSequences
	case costAttention:
		for _, l := range sh.lens {
			if k == decode {
				size += float64(l) / knee
			} else {
				size += math.Pow(float64(l)/knee, AttentionExponent)
			}
		}
	case costTokens:
		if k == decode {
			size = float64(sh.batch()) / knee
			break
		}
		for _, l := range sh.lens {
			size += float64(l) / knee
		}
	}
	return max(1, size)
}

// modelDur is the modelled duration of an op occurrence whose seed time is
// d picoseconds: d in a prefill step, a quarter of it in a decode step
// (at least 1 ns), times its class's factor. A factor of 1 keeps the seed's
// picoseconds exactly.
func modelDur(d int64, c costClass, k stepKind, sh shape) int64 {
	if k == decode {
		d = max(d/4, capture.Nanosecond)
	}
	if f := factor(c, k, sh); f > 1 {
		d = int64(math.Round(float64(d) * f))
	}
	return d
}
