package report

import (
	"fmt"
	"strings"
	"time"
)

// Lines is a chart of values over time: one line per series.
type Lines struct {
	// Title heads the chart.
	Title string
	// Unit is the values' unit ("us" draws times in µs, ms or s).
	Unit string
	// YLabel names the values on the axis.
	YLabel string
	// Series are the lines, drawn in order (later ones on top).
	Series []LineSeries
}

// LineSeries is one line.
type LineSeries struct {
	// Name is shown in the legend and tooltips.
	Name string
	// Points are the line's points, in time order.
	Points []LinePoint
	// Bold draws the line thicker and black (the fleet's median).
	Bold bool
}

// LinePoint is one point of a line.
type LinePoint struct {
	// At is the point's time.
	At time.Time
	// Value is its value.
	Value float64
	// Label is its tooltip (a capture id).
	Label string
}

// Plot geometry of a line chart.
const (
	linePlotHeight = 260
	lineLeft       = 84
	lineRight      = 24
)

// LinesSVG draws a line chart over time.
func LinesSVG(ch Lines) []byte {
	var b svgBuf
	var t0, t1 time.Time
	maxV := 0.0
	n := 0
	names := make([]string, len(ch.Series))
	for i, s := range ch.Series {
		names[i] = s.Name
		for _, p := range s.Points {
			if n == 0 || p.At.Before(t0) {
				t0 = p.At
			}
			if n == 0 || p.At.After(t1) {
				t1 = p.At
			}
			maxV = max(maxV, clean(p.Value))
			n++
		}
	}
	legendRows := legendLayout(names, svgWidth-24)
	top := float64(titleHeight) + float64(len(legendRows))*18 + 12
	bottom := top + linePlotHeight
	height := bottom + axisHeight
	b.open(svgWidth, height, ch.Title)
	for r, row := range legendRows {
		for _, it := range row {
			y := float64(titleHeight) + float64(r)*18 + 4
			b.f(`<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`+"\n", 12+it.x, y, lineColor(ch.Series[it.i], it.i))
			b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s">%s</text>`+"\n", 12+it.x+14, y+9, textFont, textColor, esc(it.text))
		}
	}
	x0, x1 := float64(lineLeft), float64(svgWidth-lineRight)
	if n == 0 {
		b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s">no data</text>`+"\n", x0, top+16, textFont, mutedColor)
		b.f("</svg>\n")
		return b.Bytes()
	}
	div, unit := scale(ch.Unit, maxV)
	if maxV <= 0 {
		maxV = 1
	}
	axisMax := maxV * 1.1
	y := func(v float64) float64 { return bottom - clean(v)/axisMax*linePlotHeight }
	span := t1.Sub(t0)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return (x0 + x1) / 2
		}
		return x0 + float64(t.Sub(t0))/float64(span)*(x1-x0)
	}
	// Horizontal grid and value ticks.
	for _, tv := range ticks(axisMax/div, 5) {
		yy := y(tv * div)
		b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, yy, x1, yy, gridColor)
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s" text-anchor="end">%s</text>`+"\n", x0-6, yy+4, textFont, mutedColor, tick(tv))
	}
	label := ch.YLabel
	if label == "" {
		label = "value"
	}
	b.f(`<text x="14" y="%.1f" %s font-size="12" fill="%s" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s (%s)</text>`+"\n",
		top+linePlotHeight/2, textFont, textColor, top+linePlotHeight/2, esc(label), esc(unit))
	// Time ticks.
	for _, tt := range timeTicks(t0, t1, 5) {
		xx := x(tt)
		b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", xx, top, xx, bottom, gridColor)
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s" text-anchor="middle">%s</text>`+"\n", xx, bottom+15, textFont, mutedColor, esc(timeLabel(tt, span)))
	}
	b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, bottom, x1, bottom, mutedColor)
	b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s" text-anchor="middle">commit time (UTC)</text>`+"\n", (x0+x1)/2, bottom+34, textFont, textColor)
	for i, s := range ch.Series {
		color, w := lineColor(s, i), 1.5
		if s.Bold {
			w = 3
		}
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Value)))
		}
		b.f(`<g><title>%s</title>`+"\n", esc(s.Name))
		if len(pts) > 1 {
			b.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="%g"/>`+"\n", strings.Join(pts, " "), color, w)
		}
		for _, p := range s.Points {
			tip := fmt.Sprintf("%s %s: %s", s.Name, p.At.UTC().Format("2006-01-02 15:04:05"), human(p.Value, ch.Unit))
			if p.Label != "" {
				tip += " (" + p.Label + ")"
			}
			b.f(`<circle cx="%.1f" cy="%.1f" r="%g" fill="%s"><title>%s</title></circle>`+"\n", x(p.At), y(p.Value), w+1.5, color, esc(tip))
		}
		b.f("</g>\n")
	}
	b.f("</svg>\n")
	return b.Bytes()
}

// lineColor is series i's colour: black for a bold (median) line.
func lineColor(s LineSeries, i int) string {
	if s.Bold {
		return textColor
	}
	return seriesColor(i)
}

// timeTicks returns about n round times between t0 and t1.
func timeTicks(t0, t1 time.Time, n int) []time.Time {
	span := t1.Sub(t0)
	if span <= 0 {
		return []time.Time{t0}
	}
	steps := []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= time.Duration(n) {
			step = s
			break
		}
	}
	var out []time.Time
	for t := t0.UTC().Truncate(step); !t.After(t1); t = t.Add(step) {
		if !t.Before(t0) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []time.Time{t0}
	}
	return out
}

// timeLabel formats a tick for a chart spanning span.
func timeLabel(t time.Time, span time.Duration) string {
	t = t.UTC()
	switch {
	case span < time.Minute:
		return t.Format("15:04:05")
	case span < 24*time.Hour:
		return t.Format("15:04")
	case span < 90*24*time.Hour:
		return t.Format("Jan 2 15:04")
	}
	return t.Format("2006-01-02")
}
