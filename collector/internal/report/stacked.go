package report

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Stacked is a horizontal stacked bar chart: one bar per row (a host), one
// segment per series (a component), highlighted rows marked in red.
type Stacked struct {
	// Title heads the chart.
	Title string
	// Unit is the values' unit ("us" draws times in µs, ms or s).
	Unit string
	// Series name the segments, in stacking order.
	Series []string
	// Bars are the rows, top to bottom.
	Bars []StackedBar
}

// StackedBar is one row of a stacked chart.
type StackedBar struct {
	// Label names the row.
	Label string
	// Values are the segments' values, one per series; missing ones are 0.
	Values []float64
	// Highlight marks the row (an outlier).
	Highlight bool
}

// palette colours series in turn (Tableau 10).
var palette = []string{"#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC"}

// highlightColor draws what a chart highlights.
const highlightColor = "#C62828"

// seriesColor is series i's colour.
func seriesColor(i int) string { return palette[i%len(palette)] }

// clean returns v, or 0 when it is negative, NaN or infinite.
func clean(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// StackedSVG draws a stacked bar chart.
func StackedSVG(ch Stacked) []byte {
	var b svgBuf
	longest, maxTotal := 0, 0.0
	totals := make([]float64, len(ch.Bars))
	for i, bar := range ch.Bars {
		longest = max(longest, utf8.RuneCountInString(bar.Label))
		for _, v := range bar.Values {
			totals[i] += clean(v)
		}
		maxTotal = max(maxTotal, totals[i])
	}
	labelW := float64(min(longest, maxLane))*charWidth + 8
	x0 := 12 + labelW + 8
	width := svgWidth - x0 - valueWidth
	legendRows := legendLayout(ch.Series, svgWidth-24)
	top := float64(titleHeight) + float64(len(legendRows))*18 + 8
	bottom := top + float64(len(ch.Bars)*barRow) + 6
	b.open(svgWidth, bottom+axisHeight, ch.Title)
	for r, row := range legendRows {
		for _, it := range row {
			y := float64(titleHeight) + float64(r)*18 + 4
			b.f(`<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`+"\n", 12+it.x, y, seriesColor(it.i))
			b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s">%s</text>`+"\n", 12+it.x+14, y+9, textFont, textColor, esc(it.text))
		}
	}
	div, unit := scale(ch.Unit, maxTotal)
	axisMax := maxTotal
	if axisMax <= 0 {
		axisMax = 1
	}
	for i := range ch.Bars {
		if i%2 == 0 {
			b.f(`<rect x="4" y="%.1f" width="%d" height="%d" fill="%s"/>`+"\n", top+float64(i*barRow), svgWidth-8, barRow, stripeColor)
		}
	}
	if len(ch.Bars) == 0 {
		b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s">no data</text>`+"\n", x0, top+16, textFont, mutedColor)
	}
	b.grid(x0, width, top-4, bottom, axisMax, div, unit, "time")
	for i, bar := range ch.Bars {
		y := top + float64(i*barRow)
		color, weight := textColor, "normal"
		if bar.Highlight {
			color, weight = highlightColor, "bold"
		}
		b.f(`<g><title>%s</title>`+"\n", esc(stackedTip(ch, bar, totals[i])))
		b.f(`<text x="%.1f" y="%.1f" %s font-size="%d" font-weight="%s" fill="%s" text-anchor="end">%s</text>`+"\n",
			12+labelW, y+barRow/2+4, labelFont, fontSize, weight, color, esc(cut(bar.Label, maxLane)))
		x := x0
		for j := range ch.Series {
			v := 0.0
			if j < len(bar.Values) {
				v = clean(bar.Values[j])
			}
			w := v / axisMax * width
			if w <= 0 {
				continue
			}
			b.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", x, y+(barRow-barHeight)/2, w, barHeight, seriesColor(j))
			x += w
		}
		if bar.Highlight {
			b.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="none" stroke="%s" stroke-width="2"/>`+"\n",
				x0-1, y+(barRow-barHeight)/2-1, math.Max(x-x0, 1)+2, barHeight+2, highlightColor)
		}
		shown := human(totals[i], ch.Unit)
		if bar.Highlight {
			shown += " (outlier)"
		}
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" font-weight="%s" fill="%s" %s>%s</text>`+"\n", x+6, y+barRow/2+4, textFont, weight, color, haloText, esc(shown))
		b.f("</g>\n")
	}
	b.f("</svg>\n")
	return b.Bytes()
}

// stackedTip is a bar's tooltip: its label, total and segments.
func stackedTip(ch Stacked, bar StackedBar, total float64) string {
	parts := []string{fmt.Sprintf("%s: %s", bar.Label, human(total, ch.Unit))}
	for j, s := range ch.Series {
		if j < len(bar.Values) && clean(bar.Values[j]) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", s, human(bar.Values[j], ch.Unit)))
		}
	}
	return strings.Join(parts, "; ")
}

// legendItem is one entry of a legend, placed at x on its row.
type legendItem struct {
	i    int
	x    float64
	text string
}

// legendLayout places legend entries left to right in rows of width.
func legendLayout(names []string, width float64) [][]legendItem {
	var rows [][]legendItem
	var row []legendItem
	x := 0.0
	for i, n := range names {
		text := cut(n, 40)
		w := 14 + float64(utf8.RuneCountInString(text))*6.4 + 14
		if x > 0 && x+w > width {
			rows, row, x = append(rows, row), nil, 0
		}
		row = append(row, legendItem{i: i, x: x, text: text})
		x += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}
