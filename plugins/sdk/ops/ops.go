// Package ops finds a capture's device ops and the framework op behind each:
// the operation and op type that XLA records in an op's tf_op stat.
//
// Every built-in device analyzer (top ops, op types, components) starts
// here, and so can a plugin's:
//
//	for op := range ops.DeviceOps(c) {
//		total[op.Type] += op.Event.Dur
//	}
package ops

import (
	"iter"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// StatName is the stat that carries an op's framework op, formatted
// "<op name>:<op type>", e.g.
// "jit(jitted_run_model)/LogitsProcessor/dot_general:dot_general".
const StatName = "tf_op"

// UnknownType is the op type of an op whose tf_op stat is missing or has an
// empty type (XLA's own control flow and copies: "while.6", "copy.3398").
const UnknownType = "Unknown"

// FrameworkOp returns the framework operation and op type of a device op
// event, from its tf_op stat.
//
// The stat is split at its last ':', because op types (JAX primitives such as
// "dot_general", TensorFlow op types such as "MatMul") never hold one while
// user-chosen JAX name scopes may. An empty type, or a stat with no ':',
// gives type UnknownType. Without a tf_op stat (or with an empty one), the
// operation is the event's own name (the HLO op, e.g. "conditional.3") and
// the type is UnknownType.
func FrameworkOp(ev *capture.Event) (operation, opType string) {
	s, ok := ev.Stat(StatName)
	if !ok {
		return ev.Name, UnknownType
	}
	full := s.Str
	if s.Kind != capture.StatString {
		full = s.String()
	}
	if full == "" {
		return ev.Name, UnknownType
	}
	i := strings.LastIndexByte(full, ':')
	if i < 0 {
		return full, UnknownType
	}
	operation, opType = full[:i], full[i+1:]
	if opType == "" {
		opType = UnknownType
	}
	return operation, opType
}

// Op is one device op event with its framework op.
type Op struct {
	// Plane is the device plane the op ran on.
	Plane *capture.Plane
	// Line is the op line (e.g. "XLA Ops", "Stream #14(Compute)").
	Line *capture.Line
	// Event is the op's event, as kept in the capture.
	Event *capture.Event
	// Operation and Type are the framework op, as FrameworkOp returns them.
	Operation, Type string
}

// DeviceOps iterates over the kept op events of every device plane (events
// on the op lines of planes named "/device:…"), plane by plane and line by
// line, in the capture's order. Trimming always keeps every op event, since
// the windows are built from them.
func DeviceOps(c *capture.Capture) iter.Seq[Op] {
	return func(yield func(Op) bool) {
		for _, p := range c.Planes {
			if !capture.IsDevicePlane(p.Name) {
				continue
			}
			for _, l := range p.Lines {
				if !capture.IsOpLine(l.Name) {
					continue
				}
				for i := range l.Events {
					ev := &l.Events[i]
					name, typ := FrameworkOp(ev)
					if !yield(Op{Plane: p, Line: l, Event: ev, Operation: name, Type: typ}) {
						return
					}
				}
			}
		}
	}
}

// Group is the count and summed duration of the device ops that share a key.
type Group[K comparable] struct {
	// Key is what the ops share.
	Key K
	// Count is how many op events there are.
	Count int64
	// Total is their summed duration in picoseconds.
	Total int64
}

// Sum groups the capture's device ops by key and returns the groups in the
// order their keys were first met, and the summed duration of all device ops
// in picoseconds (the denominator of every "% of device op time").
func Sum[K comparable](c *capture.Capture, key func(Op) K) (groups []Group[K], total int64) {
	index := make(map[K]int)
	for op := range DeviceOps(c) {
		k := key(op)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, Group[K]{Key: k})
		}
		groups[i].Count++
		groups[i].Total += op.Event.Dur
		total += op.Event.Dur
	}
	return groups, total
}
