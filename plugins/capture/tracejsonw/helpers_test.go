package tracejsonw

import (
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// collector is a capture.Visitor that keeps everything the reader tells it.
type collector struct {
	baseNS int64
	planes []*cplane
	events []cevent
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

func (c *collector) Base(ns int64) { c.baseNS = ns }

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

// planeNames lists the planes read, each with its lines: "name [l1,l2]".
func planeNames(c *collector) []string {
	var out []string
	for _, p := range c.planes {
		var ls []string
		for _, l := range p.lines {
			ls = append(ls, l.Name)
		}
		out = append(out, p.info.Name+" ["+strings.Join(ls, ",")+"]")
	}
	return out
}
