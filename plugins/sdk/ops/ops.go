// Package ops finds a capture's device ops and names each as xprof does:
// its operation and op type (FrameworkOp, from XLA's tf_op stat, the HLO
// instruction, or the PyTorch op that launched a kernel) and its category
// (Category, from XLA's hlo_category or kineto's cat).
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

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

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
	// Category is the op's category, as Category returns it.
	Category string
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
					op := Op{Plane: p, Line: l, Event: ev, Operation: name, Type: typ, Category: Category(ev)}
					if !yield(op) {
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
