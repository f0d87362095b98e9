package tracejson

import (
	"encoding/json"
	"flag"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// truth holds the fields of a fixture's truth.json these tests check.
type truth struct {
	SpanUS         json.Number `json:"span_us"`
	EventsTotal    int64       `json:"events_total"`
	DeviceOpEvents int64       `json:"device_op_events"`
}

// collector is a capture.Visitor that keeps everything it is told.
type collector struct {
	baseCalls int
	baseNS    int64
	planes    []*cplane
	events    []cevent
}

type cplane struct {
	info  capture.PlaneInfo
	lines []capture.LineInfo
}

type cevent struct {
	plane, line int
	name        string
	start, dur  int64
	ref         capture.Ref
}

func (c *collector) Base(ns int64) { c.baseCalls++; c.baseNS = ns }

func (c *collector) Plane(p capture.PlaneInfo) int {
	c.planes = append(c.planes, &cplane{info: p})
	return len(c.planes) - 1
}

func (c *collector) Line(plane int, l capture.LineInfo) int {
	p := c.planes[plane]
	p.lines = append(p.lines, l)
	return len(p.lines) - 1
}

func (c *collector) Event(e *capture.RawEvent) error {
	c.events = append(c.events, cevent{e.Plane, e.Line, string(e.Name), e.Start, e.Dur, e.Ref})
	return nil
}

// counter is a capture.Visitor that only counts, as cheaply as possible.
type counter struct {
	n     int64
	bytes int64
}

func (c *counter) Base(int64)                      {}
func (c *counter) Plane(capture.PlaneInfo) int     { return 0 }
func (c *counter) Line(int, capture.LineInfo) int  { return 0 }
func (c *counter) Event(e *capture.RawEvent) error { c.n++; c.bytes += int64(len(e.Name)); return nil }
