package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Limits of the requests timeline.
const (
	// timelineLanes bounds the requests drawn, one lane each.
	timelineLanes = 40
	// timelineLinks bounds the zoom links, one per window.
	timelineLinks = 60
)

// requestsSection reads a capture's windows and workload requests from the
// header of its stored .fpcap and draws them (RequestsSVG), zoomed to the
// window the "window" query parameter names (from 1), with links to zoom.
// It returns "" for a capture without requests.
func (u *UI) requestsSection(ctx context.Context, r *http.Request, id string) (template.HTML, error) {
	var c *capture.Capture
	err := u.cfg.Store.View(ctx, func(rd *store.Reader) error {
		blob, err := rd.OpenBlob(id)
		if err != nil {
			return err
		}
		c, err = fpcap.ReadHeader(blob)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the header of %s: %w", id, err)
	}
	if len(c.Requests) == 0 {
		return "", nil
	}
	zoom, _ := strconv.Atoi(r.URL.Query().Get("window"))
	if zoom < 0 || zoom > len(c.Windows) {
		zoom = 0
	}
	var b bytes.Buffer
	b.WriteString(`<h2 id="requests">Requests and device bursts</h2>`)
	b.Write(RequestsSVG(c.Span, c.Windows, c.Requests, zoom))
	b.WriteString(`<p class="hint">Each request runs from when the agent sent it to the end of its answer (the tick marks its first byte), on the host clock the profiler used; the bars below are the device's non-idle windows. Idle stretches between windows are shrunk to a fixed gap and labelled with their length. Zoom: `)
	self := "/captures/" + url.PathEscape(id)
	link := func(n int, text string) {
		if n == zoom {
			fmt.Fprintf(&b, `<b>%s</b> `, html.EscapeString(text))
			return
		}
		q := ""
		if n > 0 {
			q = "?window=" + strconv.Itoa(n)
		}
		fmt.Fprintf(&b, `<a href="%s%s#requests">%s</a> `, self, q, html.EscapeString(text))
	}
	link(0, "all windows")
	for n := 1; n <= min(len(c.Windows), timelineLinks); n++ {
		link(n, strconv.Itoa(n))
	}
	if len(c.Windows) > timelineLinks {
		fmt.Fprintf(&b, "(and %d more windows)", len(c.Windows)-timelineLinks)
	}
	b.WriteString("</p>")
	return template.HTML(b.String()), nil // every piece above is escaped
}

// axis maps capture times to x on a piecewise scale: each shown window
// gets width in proportion to its length, each idle stretch a fixed gap.
type axis struct {
	pieces []piece
}

type piece struct {
	from, to int64   // times, ps
	x0, x1   float64 // pixels
	idle     bool
}

// newAxis lays out windows (or only window zoom, from 1) across [x0, x1],
// with idle gaps of gap pixels before, between and after them within span.
func newAxis(span capture.Interval, windows []capture.Interval, zoom int, x0, x1, gap float64) axis {
	if zoom > 0 {
		w := windows[zoom-1]
		return axis{pieces: []piece{{from: w.Start, to: max(w.End, w.Start+1), x0: x0, x1: x1}}}
	}
	var busy int64
	for _, w := range windows {
		busy += max(w.Len(), 1)
	}
	type stretch struct {
		from, to int64
		idle     bool
	}
	var st []stretch
	at := min(span.Start, windows[0].Start)
	for _, w := range windows {
		if w.Start > at {
			st = append(st, stretch{at, w.Start, true})
		}
		st = append(st, stretch{w.Start, max(w.End, w.Start+1), false})
		at = max(w.End, w.Start+1)
	}
	if end := max(span.End, at); end > at {
		st = append(st, stretch{at, end, true})
	}
	gaps := 0
	for _, s := range st {
		if s.idle {
			gaps++
		}
	}
	room := max(x1-x0-float64(gaps)*gap, 1)
	var a axis
	x := x0
	for _, s := range st {
		wd := gap
		if !s.idle {
			wd = room * float64(s.to-s.from) / float64(busy)
		}
		a.pieces = append(a.pieces, piece{from: s.from, to: s.to, x0: x, x1: x + wd, idle: s.idle})
		x += wd
	}
	return a
}

// x maps a time to pixels, clamped to the axis.
func (a axis) x(t int64) float64 {
	ps := a.pieces
	if t <= ps[0].from {
		return ps[0].x0
	}
	for _, p := range ps {
		if t <= p.to {
			return p.x0 + (p.x1-p.x0)*float64(t-p.from)/float64(p.to-p.from)
		}
	}
	return ps[len(ps)-1].x1
}

// RequestsSVG draws a capture's workload requests as spans, one lane each,
// above its device bursts (the non-idle windows), on an axis that gives the
// windows their width and shrinks idle stretches to a labelled gap, so a
// burst of microseconds is not a hairline of a two-second span. zoom > 0
// draws window zoom (from 1) alone, across the full width. Times are
// relative to the capture's base time (capture.Request, capture.Interval).
func RequestsSVG(span capture.Interval, windows []capture.Interval, reqs []capture.Request, zoom int) []byte {
	const width, left, right, laneH, top = 1000.0, 60.0, 10.0, 14.0, 22.0
	lanes := min(len(reqs), timelineLanes)
	deviceY := top + float64(lanes)*laneH + 8
	height := deviceY + 40
	var b bytes.Buffer
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f(`<figure class="timeline requests"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="100%%" role="img" aria-label="%d requests above %d device windows" font-family="sans-serif" font-size="10">`,
		width, height, len(reqs), len(windows))
	if len(windows) == 0 {
		windows = []capture.Interval{span}
		zoom = 0
	}
	a := newAxis(span, windows, zoom, left, width-right, 18)
	ms := func(ps int64) string {
		return strconv.FormatFloat(float64(ps)/float64(capture.Millisecond), 'f', 3, 64) + " ms"
	}
	rel := func(t int64) string { return ms(t - span.Start) }
	// Idle gaps: hatched, with their length.
	for _, p := range a.pieces {
		if p.idle {
			f(`<rect x="%.1f" y="%g" width="%.1f" height="%.1f" fill="#f3f3f3"><title>idle %s</title></rect>`, p.x0, top-8, p.x1-p.x0, height-top-8, ms(p.to-p.from))
			f(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#888" font-size="8">%s</text>`, (p.x0+p.x1)/2, height-4, html.EscapeString(shortMS(p.to-p.from)))
		}
	}
	f(`<text x="4" y="12" fill="#555">requests</text>`)
	for i, r := range reqs[:lanes] {
		y := top + float64(i)*laneH
		x0, x1 := a.x(r.Send), a.x(r.End)
		fb := a.x(r.FirstByte)
		color := "#1f77b4"
		if !r.OK() {
			color = "#d62728"
		}
		status := strconv.Itoa(r.Status)
		if r.Err != "" {
			status = r.Err
		}
		f(`<text x="4" y="%.1f" dominant-baseline="middle">%s</text>`, y+laneH/2, html.EscapeString(cut(r.ID, 9)))
		f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%g" rx="2" fill="%s" fill-opacity="0.75"><title>%s %s: sent at %s, first byte at %s, ended at %s (latency %s, %s)</title></rect>`,
			x0, y+2, max(x1-x0, 1.5), laneH-4, color, html.EscapeString(r.ID), html.EscapeString(r.Endpoint),
			rel(r.Send), rel(r.FirstByte), rel(r.End), ms(r.End-r.Send), html.EscapeString(status))
		f(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5"/>`, fb, fb, y+1, y+laneH-1)
	}
	if len(reqs) > lanes {
		f(`<text x="%g" y="%.1f" fill="#888">and %d more requests</text>`, left, deviceY-2, len(reqs)-lanes)
	}
	f(`<text x="4" y="%.1f" dominant-baseline="middle" fill="#555">device</text>`, deviceY+9)
	for i, w := range windows {
		if zoom > 0 && i != zoom-1 {
			continue
		}
		x0, x1 := a.x(w.Start), a.x(w.End)
		f(`<rect x="%.1f" y="%.1f" width="%.1f" height="18" fill="#2ca02c"><title>window %d: %s to %s (%s)</title></rect>`,
			x0, deviceY, max(x1-x0, 1.5), i+1, rel(w.Start), rel(w.End), ms(w.Len()))
	}
	f(`</svg></figure>`)
	return b.Bytes()
}

// shortMS formats a length in picoseconds briefly, for a gap's label.
func shortMS(ps int64) string {
	us := float64(ps) / float64(capture.Microsecond)
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 1, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}

// cut shortens s to n bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
