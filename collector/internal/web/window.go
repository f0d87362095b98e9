package web

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"html/template"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Limits of a window's flame chart.
const (
	// flameWidth is the drawing's width in SVG units.
	flameWidth = 1000.0
	// flameRow is the height of one depth of a line.
	flameRow = 16.0
	// flameDepth bounds the depths drawn per line.
	flameDepth = 8
	// flameHostLines bounds the host lines drawn below the device's.
	flameHostLines = 12
	// flameEvents bounds the events drawn in all.
	flameEvents = 6000
	// flameLabel is the left margin holding the lines' names.
	flameLabel = 170.0
)

// flameLine is one line of the chart: a device's op line or a host line.
type flameLine struct {
	title  string
	events []capture.Event
	device bool
}

// windowFlame draws window n (from 1) of c at its own scale: each device
// plane's op lines as a flame chart (events nested by time), then the host
// lines with events in the window. Every event has a <title> with its name,
// duration and type, which browsers show on hover.
func windowFlame(c *capture.Capture, n int) template.HTML {
	if n < 1 || n > len(c.Windows) {
		return ""
	}
	win := c.Windows[n-1]
	if win.Len() <= 0 {
		return ""
	}
	var lines []flameLine
	hostLines := 0
	for _, p := range c.Planes {
		device := capture.IsDevicePlane(p.Name)
		if !device && !capture.IsHostPlane(p.Name) {
			continue
		}
		for _, l := range p.Lines {
			if device && !capture.IsOpLine(l.Name) {
				continue
			}
			var in []capture.Event
			for _, e := range l.Events {
				if e.Start <= win.End && e.Start+e.Dur >= win.Start {
					in = append(in, e)
				}
			}
			if len(in) == 0 {
				continue
			}
			if !device {
				if hostLines == flameHostLines {
					continue
				}
				hostLines++
			}
			name := cmp.Or(l.DisplayName, l.Name)
			lines = append(lines, flameLine{title: p.Name + " · " + name, events: in, device: device})
		}
	}
	// Device lines first, then the host's.
	slices.SortStableFunc(lines, func(a, b flameLine) int {
		switch {
		case a.device == b.device:
			return 0
		case a.device:
			return -1
		}
		return 1
	})
	if len(lines) == 0 {
		return template.HTML(`<p class="muted">No kept events in this window.</p>`)
	}
	scale := (flameWidth - flameLabel) / float64(win.Len())
	x := func(t int64) float64 { return flameLabel + float64(min(max(t, win.Start), win.End)-win.Start)*scale }

	var body bytes.Buffer
	y, drawn := 24.0, 0
	for _, l := range lines {
		slices.SortFunc(l.events, func(a, b capture.Event) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(b.Dur, a.Dur))
		})
		// Depth by nesting: an event starting before the end of the one
		// under it sits one row lower.
		var ends []int64
		depths := 1
		cls := "host"
		if l.device {
			cls = "op"
		}
		fmt.Fprintf(&body, `<text class="lane" x="4" y="%.1f">%s</text>`+"\n", y+12, html.EscapeString(cut(l.title, 28)))
		for _, e := range l.events {
			for len(ends) > 0 && ends[len(ends)-1] <= e.Start {
				ends = ends[:len(ends)-1]
			}
			d := len(ends)
			ends = append(ends, e.Start+e.Dur)
			if d >= flameDepth || drawn == flameEvents {
				continue
			}
			depths = max(depths, d+1)
			x0, x1 := x(e.Start), x(e.Start+e.Dur)
			name := cmp.Or(e.DisplayName, e.Name)
			kind := l.title
			if s, ok := e.Stat("hlo_category"); ok && s.Str != "" {
				kind = s.Str
			} else if s, ok := e.Stat("cat"); ok && s.Str != "" {
				kind = s.Str
			}
			fmt.Fprintf(&body, `<rect class="%s" x="%.2f" y="%.1f" width="%.2f" height="%.1f"><title>%s · %s · %s</title></rect>`+"\n",
				cls, x0, y+float64(d)*flameRow, max(x1-x0, 0.5), flameRow-2,
				html.EscapeString(name), numfmt.Duration(e.Dur), html.EscapeString(kind))
			drawn++
		}
		y += float64(depths)*flameRow + 6
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="flame" id="flame" viewBox="0 0 %.0f %.0f" role="img" aria-label="window %d: %s">`+"\n", flameWidth, y+4, n, html.EscapeString(numfmt.Duration(win.Len())))
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="12">+0</text><text class="axis" x="%.0f" y="12" text-anchor="end">+%s</text>`+"\n",
		flameLabel, flameWidth-2, html.EscapeString(numfmt.Duration(win.Len())))
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return template.HTML(b.String()) // #nosec: every text is escaped above
}
