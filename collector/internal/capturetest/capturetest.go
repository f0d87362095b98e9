// Package capturetest builds small captures with exactly known figures for
// the collector's tests.
package capturetest

import (
	"bytes"
	"crypto/sha256"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Op is one device op: its tf_op stat ("operation:type", "" for none) and
// its interval in picoseconds.
type Op struct {
	// TFOp is the op's tf_op stat; "" leaves it out.
	TFOp string
	// Name is the HLO op name (default "fusion").
	Name string
	// Start and Dur are in picoseconds.
	Start, Dur int64
}

// Capture returns a one-device capture ("/device:TPU:0", line "XLA Ops")
// holding ops, with span, busy time, op totals and windows computed from
// them (gap 0 and pad 0: the union of the op intervals), and base time
// baseNS.
func Capture(baseNS int64, ops ...Op) *capture.Capture {
	c := &capture.Capture{BaseNS: baseNS, Source: capture.Source{Format: "fpcap", Name: "test.fpcap"}}
	p := &capture.Plane{ID: 1, Name: "/device:TPU:0"}
	l := &capture.Line{ID: 1, Name: "XLA Ops"}
	var iv []capture.Interval
	for i, op := range ops {
		name := op.Name
		if name == "" {
			name = "fusion"
		}
		ev := capture.Event{Name: name, Start: op.Start, Dur: op.Dur, Self: op.Dur}
		if op.TFOp != "" {
			ev.Stats = []capture.Stat{{Name: "tf_op", Kind: capture.StatString, Str: op.TFOp}}
		}
		l.Events = append(l.Events, ev)
		iv = append(iv, ev.Interval())
		p.OpEvents++
		p.OpTotal += op.Dur
		if i == 0 || op.Start < c.Span.Start {
			c.Span.Start = op.Start
		}
		c.Span.End = max(c.Span.End, op.Start+op.Dur)
	}
	p.EventsTotal = p.OpEvents
	c.EventsTotal = p.OpEvents
	p.Lines = []*capture.Line{l}
	c.Planes = []*capture.Plane{p}
	c.Windows = capture.Union(append([]capture.Interval(nil), iv...))
	p.Busy = capture.TotalLen(c.Windows)
	return c
}

// Fpcap returns c as .fpcap bytes and their SHA-256.
func Fpcap(c *capture.Capture) ([]byte, []byte) {
	var b bytes.Buffer
	if err := fpcap.Write(&b, c); err != nil {
		panic(err) // a test helper: the captures built here always encode
	}
	sum := sha256.Sum256(b.Bytes())
	return b.Bytes(), sum[:]
}
