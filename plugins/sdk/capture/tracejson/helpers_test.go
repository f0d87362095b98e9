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

// counter is a capture.Visitor that only counts, as cheaply as possible.
type counter struct {
	n     int64
	bytes int64
}

func (c *counter) Base(int64)                      {}
func (c *counter) Plane(capture.PlaneInfo) int     { return 0 }
func (c *counter) Line(int, capture.LineInfo) int  { return 0 }
func (c *counter) Event(e *capture.RawEvent) error { c.n++; c.bytes += int64(len(e.Name)); return nil }
