package insight

import (
	"cmp"
	"slices"
)

// host is a compact description of a capture for tests: its agent, request
// count, span, components and ops (µs over the whole capture).
type host struct {
	agent    string
	id       string
	fleet    string
	at       int64 // committed, ns
	requests int64
	spanUS   float64
	comps    map[string]float64 // nil: no components section
	ops      map[string]float64
	partial  bool // the op list is not complete
	idle     float64
}

// summary builds the Summary of h: the device op time is the sum of its
// ops (or of its components when it has no ops).
func (h host) summary() Summary {
	id := h.id
	if id == "" {
		id = h.agent + "-1"
	}
	s := Summary{
		SchemaVersion: SchemaVersion, CaptureID: id, AgentID: h.agent, Host: h.agent + ".example",
		FleetID: h.fleet, CommittedNS: h.at, Requests: h.requests, SpanUS: h.spanUS, IdlePct: h.idle,
		Labels: []Pair{{Key: "agent", Value: h.agent}}, Components: []Figure{}, Ops: []OpFigure{},
		HasComponents: h.comps != nil, OpsComplete: !h.partial, Per: PerSecond,
	}
	if s.SpanUS == 0 {
		s.SpanUS = 1e6
	}
	if h.requests > 0 {
		s.Per = PerRequest
	}
	for n, v := range h.comps {
		s.Components = append(s.Components, Figure{Name: n, US: v})
		if len(h.ops) == 0 {
			s.DeviceOpUS += v
		}
	}
	for n, v := range h.ops {
		s.Ops = append(s.Ops, OpFigure{Operation: n, Type: "t_" + n, US: v, Occurrences: 1})
		s.DeviceOpUS += v
	}
	s.fillRates()
	slices.SortFunc(s.Components, func(a, b Figure) int { return cmp.Or(cmp.Compare(b.US, a.US), cmp.Compare(a.Name, b.Name)) })
	slices.SortFunc(s.Ops, func(a, b OpFigure) int { return cmp.Or(cmp.Compare(b.US, a.US), cmp.Compare(a.Operation, b.Operation)) })
	return s
}

// summaries builds the summaries of hs.
func summaries(hs ...host) []Summary {
	out := make([]Summary, len(hs))
	for i, h := range hs {
		out[i] = h.summary()
	}
	return out
}

// std is a host of the standard shape for fleet and regression tests: two
// requests, attention 200 µs (attn_a 160 + attn_b 40), mlp 200 µs (mlp_a),
// and a tiny op (tiny 1 µs) counted under "other"; attention is scaled by
// slow.
func std(agent string, slow float64) host {
	return host{
		agent: agent, requests: 2,
		comps: map[string]float64{"attention": 200 * slow, "mlp": 200, "other": 1},
		ops:   map[string]float64{"attn_a": 160 * slow, "attn_b": 40 * slow, "mlp_a": 200, "tiny": 1},
	}
}
