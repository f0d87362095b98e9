package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"html"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

// ErrChartKind means a chart's kind is neither "bar" nor "timeline".
var ErrChartKind = errors.New("report: unknown chart kind (want bar or timeline)")

// Drawing constants, in SVG pixels. Labels are set in a monospace font so
// their width is known: about 0.6 em a character.
const (
	svgWidth    = 960
	fontSize    = 12
	charWidth   = 7.4 // 0.6 em of 12 px, with a little slack
	maxLabel    = 60  // characters of a bar label before it is cut
	maxLane     = 24  // characters of a timeline lane name before it is cut
	barRow      = 24
	barHeight   = 16
	laneRow     = 34
	laneHeight  = 18
	titleHeight = 36
	axisHeight  = 44
	minSpanPx   = 2 // narrowest drawn span, so a 1 ms window in 5 s shows
	valueWidth  = 128
	labelFont   = `font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"`
	textFont    = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`
	barColor    = "#4C78A8"
	windowColor = "#F58518"
	spanColor   = "#D9D9D9"
	gridColor   = "#E3E3E3"
	stripeColor = "#F6F6F6"
	textColor   = "#222222"
	mutedColor  = "#666666"
)

// SVG draws a chart: a horizontal bar chart with labels and values, or a
// timeline of spans on lanes. Long labels are cut in the middle; the full
// text is in each element's <title> (a tooltip in browsers).
func SVG(ch sdk.Chart) ([]byte, error) {
	switch ch.Kind {
	case "bar":
		return barSVG(ch), nil
	case "timeline":
		return timelineSVG(ch), nil
	}
	return nil, fmt.Errorf("%w: %q in chart %q", ErrChartKind, ch.Kind, ch.Title)
}

// scale picks the unit to show times of up to max µs in.
func scale(unit string, max float64) (div float64, shown string) {
	if unit != "us" {
		return 1, unit
	}
	switch {
	case max >= 1e6:
		return 1e6, "s"
	case max >= 1e3:
		return 1e3, "ms"
	}
	return 1, numfmt.Micro
}

// ticks returns round tick values from 0 covering max, about n of them.
func ticks(max float64, n int) []float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return []float64{0}
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * step
		if v > max*1.0001 {
			break
		}
		out = append(out, v)
	}
	return out
}

// num formats an axis or value figure compactly.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return group(strconv.FormatFloat(v, 'f', 1, 64))
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// tick formats an axis tick, as short as the step allows.
func tick(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if len(s) > 10 {
		s = strconv.FormatFloat(v, 'g', 6, 64)
	}
	return group(s)
}

// cut shortens s to at most n characters by taking out its middle, where
// long op names repeat themselves; it keeps more of the end, which names the
// op.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	head := (n - 1) * 2 / 5
	tail := n - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// qualifier matches a C++ namespace or class qualifier, "Eigen::".
var qualifier = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_]*::`)

// shortLabel makes a C++ kernel signature (as GPU profiles name kernels)
// shorter before it is cut: it drops the return type, the namespace
// qualifiers, "const" and the parameter list, which repeat what the template
// arguments say. Other labels are left alone.
func shortLabel(s string) string {
	prefix, name := "", s
	if i := strings.Index(s, ": "); i >= 0 && !strings.Contains(s[:i], "::") {
		prefix, name = s[:i+2], s[i+2:]
	}
	if !strings.Contains(name, "::") {
		return s
	}
	name = strings.TrimPrefix(name, "void ")
	// Drop a trailing top-level parameter list.
	if strings.HasSuffix(name, ")") {
		depth := 0
		for i := len(name) - 1; i >= 0; i-- {
			switch name[i] {
			case ')', '>':
				depth++
			case '(', '<':
				depth--
			}
			if depth == 0 && name[i] == '(' && i > 0 {
				name = name[:i]
				break
			}
		}
	}
	name = qualifier.ReplaceAllString(name, "")
	name = strings.ReplaceAll(name, " const", "")
	name = strings.ReplaceAll(name, "> >", ">>")
	return prefix + name
}

// cutAll shortens labels to at most n characters each like cut, except
// that a label sharing a long start with another one keeps, between its head
// and its tail, the stretch where it first differs from the most similar
// one: C++ kernel names that differ only deep inside stay apart.
func cutAll(labels []string, n int) []string {
	out := make([]string, len(labels))
	rs := make([][]rune, len(labels))
	for i, l := range labels {
		rs[i] = []rune(l)
	}
	const head, tail = 14, 20
	for i, r := range rs {
		out[i] = cut(labels[i], n)
		if len(r) <= n {
			continue
		}
		d := 0 // where r first differs from its most similar sibling
		for j, o := range rs {
			if j == i || string(o) == string(r) {
				continue
			}
			k := 0
			for k < len(r) && k < len(o) && r[k] == o[k] {
				k++
			}
			d = max(d, k)
		}
		mid := n - head - tail - 2
		plainHead := (n - 1) * 2 / 5
		if d < plainHead || d >= len(r)-(n-1-plainHead) {
			continue // the plain cut shows the difference already
		}
		from := min(max(d-mid/3, head), len(r)-tail-mid)
		out[i] = string(r[:head]) + "…" + string(r[from:from+mid]) + "…" + string(r[len(r)-tail:])
	}
	return out
}

func esc(s string) string { return html.EscapeString(s) }

type svgBuf struct{ bytes.Buffer }

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(&b.Buffer, format, args...) }

func (b *svgBuf) open(w, h float64, title string) {
	b.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s">`+"\n", w, h, w, h, esc(title))
	b.f(`<title>%s</title>`+"\n", esc(title))
	b.f(`<rect width="100%%" height="100%%" fill="#FFFFFF"/>` + "\n")
	b.f(`<text x="12" y="24" %s font-size="16" font-weight="bold" fill="%s">%s</text>`+"\n", textFont, textColor, esc(title))
}

// grid draws vertical grid lines with their tick labels under a plot, and
// the axis line and title.
func (b *svgBuf) grid(x0, width, top, bottom, max, div float64, unit, label string) {
	for _, t := range ticks(max/div, 6) {
		x := x0 + t*div/max*width
		b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, top, x, bottom, gridColor)
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s" text-anchor="middle">%s</text>`+"\n", x, bottom+15, textFont, mutedColor, tick(t))
	}
	b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, bottom, x0+width, bottom, mutedColor)
	b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s" text-anchor="middle">%s (%s)</text>`+"\n", x0+width/2, bottom+34, textFont, textColor, esc(label), esc(unit))
}

// human formats one value of a chart: a time in µs in whichever of µs, ms
// and s reads best, to three decimals; anything else compactly.
func human(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	if unit != "us" {
		s := num(v)
		if unit != "" {
			s += " " + unit
		}
		return s
	}
	switch a := math.Abs(v); {
	case a >= 1e6:
		return numfmt.Fixed(v/1e6, 3) + " s"
	case a >= 1e3:
		return numfmt.Fixed(v/1e3, 3) + " ms"
	}
	return numfmt.Fixed(v, 3) + " " + numfmt.Micro
}

// clipAt returns how many of the largest values to draw cut short, and the
// value the axis then ends at: when the top one to three bars are over
// clipRatio times the next, they would flatten every other bar to nothing.
func clipAt(values []float64) (n int, axisMax float64) {
	sorted := slices.Clone(values)
	slices.SortFunc(sorted, func(a, b float64) int { return cmp.Compare(b, a) })
	axisMax = 0
	if len(sorted) > 0 {
		axisMax = sorted[0]
	}
	for k := 1; k <= min(3, len(sorted)/3); k++ {
		if sorted[k] > 0 && sorted[k-1] > clipRatio*sorted[k] {
			return k, sorted[k] * 1.25
		}
	}
	return 0, axisMax
}

// clipRatio is how many times larger than the rest a bar must be to be cut
// short.
const clipRatio = 8

// haloText is a text attribute set that keeps text legible over grid lines.
const haloText = `stroke="#FFFFFF" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`

func barSVG(ch sdk.Chart) []byte {
	var b svgBuf
	longest := 0
	values := make([]float64, len(ch.Bars))
	for i, bar := range ch.Bars {
		longest = max(longest, utf8.RuneCountInString(shortLabel(bar.Label)))
		v := bar.Value
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			v = 0
		}
		values[i] = v
	}
	clipped, maxV := clipAt(values)
	short := make([]string, len(ch.Bars))
	for i, bar := range ch.Bars {
		short[i] = shortLabel(bar.Label)
	}
	short = cutAll(short, maxLabel)
	labelW := float64(min(longest, maxLabel))*charWidth + 8
	x0 := 12 + labelW + 8
	width := svgWidth - x0 - valueWidth
	top := float64(titleHeight + 8)
	bottom := top + float64(len(ch.Bars)*barRow) + 6
	height := bottom + axisHeight
	if clipped > 0 {
		height += 18
	}
	b.open(svgWidth, height, ch.Title)
	div, unit := scale(ch.Unit, maxV)
	if maxV == 0 {
		maxV = 1
	}
	for i := range ch.Bars {
		if i%2 == 0 {
			b.f(`<rect x="4" y="%.1f" width="%d" height="%d" fill="%s"/>`+"\n", top+float64(i*barRow), svgWidth-8, barRow, stripeColor)
		}
	}
	if len(ch.Bars) == 0 {
		b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s">no data</text>`+"\n", x0, top+16, textFont, mutedColor)
	}
	b.grid(x0, width, top-4, bottom, maxV, div, unit, "time")
	for i, bar := range ch.Bars {
		y := top + float64(i*barRow)
		v := values[i]
		cutShort := v > maxV
		w := math.Min(v/maxV*width, width+40)
		if cutShort {
			w = width + 40
		}
		shown := human(bar.Value, ch.Unit)
		b.f(`<g><title>%s: %s</title>`+"\n", esc(bar.Label), esc(shown))
		b.f(`<text x="%.1f" y="%.1f" %s font-size="%d" fill="%s" text-anchor="end">%s</text>`+"\n",
			12+labelW, y+barRow/2+4, labelFont, fontSize, textColor, esc(short[i]))
		b.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y+(barRow-barHeight)/2, math.Max(w, 1), barHeight, barColor)
		if cutShort {
			// A white double slash across the bar says it is cut short.
			bx := x0 + width - 10
			for _, dx := range []float64{0, 7} {
				b.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#FFFFFF" stroke-width="3"/>`+"\n",
					bx+dx, y+barRow-2, bx+dx+6, y+2)
			}
		}
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s" %s>%s</text>`+"\n", x0+w+6, y+barRow/2+4, textFont, textColor, haloText, esc(shown))
		b.f("</g>\n")
	}
	if clipped > 0 {
		b.f(`<text x="%.1f" y="%.1f" %s font-size="11" fill="%s">Bars crossed by // are cut short to keep the others readable; their values are printed.</text>`+"\n",
			x0, bottom+52, textFont, mutedColor)
	}
	b.f("</svg>\n")
	return b.Bytes()
}

// Lane colours: the capture's extent, the windows, and device lanes.
func laneColor(lane string) string {
	switch lane {
	case "capture":
		return spanColor
	case "windows":
		return windowColor
	}
	return barColor
}

// maxLabelled is the most spans of a lane whose labels are written out;
// more and only their tooltips carry them.
const maxLabelled = 12

func timelineSVG(ch sdk.Chart) []byte {
	var b svgBuf
	var lanes []string
	byLane := make(map[string][]sdk.Span)
	maxEnd, longest := 0.0, 0
	for _, s := range ch.Spans {
		if _, ok := byLane[s.Lane]; !ok {
			lanes = append(lanes, s.Lane)
			longest = max(longest, utf8.RuneCountInString(s.Lane))
		}
		byLane[s.Lane] = append(byLane[s.Lane], s)
		if s.End > maxEnd && !math.IsInf(s.End, 0) {
			maxEnd = s.End
		}
	}
	labelW := float64(min(longest, maxLane))*charWidth + 8
	x0 := 12 + labelW + 8
	width := svgWidth - x0 - 24
	top := float64(titleHeight + 8)
	bottom := top + float64(len(lanes)*laneRow) + 4
	b.open(svgWidth, bottom+axisHeight, ch.Title)
	div, unit := scale(ch.Unit, maxEnd)
	if maxEnd <= 0 {
		maxEnd = 1
	}
	for i := range lanes {
		if i%2 == 0 {
			b.f(`<rect x="4" y="%.1f" width="%d" height="%d" fill="%s"/>`+"\n", top+float64(i*laneRow), svgWidth-8, laneRow, stripeColor)
		}
	}
	if len(lanes) == 0 {
		b.f(`<text x="%.1f" y="%.1f" %s font-size="12" fill="%s">no data</text>`+"\n", x0, top+16, textFont, mutedColor)
	}
	b.grid(x0, width, top-4, bottom, maxEnd, div, unit, "time since the capture's start")
	px := func(v float64) float64 { return x0 + math.Max(0, math.Min(v, maxEnd))/maxEnd*width }
	for i, lane := range lanes {
		y := top + float64(i*laneRow)
		b.f(`<text x="%.1f" y="%.1f" %s font-size="%d" fill="%s" text-anchor="end"><title>%s</title>%s</text>`+"\n",
			12+labelW, y+laneRow/2+4, labelFont, fontSize, textColor, esc(lane), esc(cut(lane, maxLane)))
		spans := byLane[lane]
		boxes := make([][2]float64, len(spans))
		for j, s := range spans {
			x1 := px(s.Start)
			boxes[j] = [2]float64{x1, x1 + math.Max(px(s.End)-x1, minSpanPx)}
			tip := fmt.Sprintf("%s: %s to %s", lane, human(s.Start, ch.Unit), human(s.End, ch.Unit))
			if s.Label != "" {
				tip = s.Label + " (" + tip + ")"
			}
			b.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
				x1, y+(laneRow-laneHeight)/2, boxes[j][1]-x1, laneHeight, laneColor(lane), esc(tip))
		}
		if len(spans) > maxLabelled {
			continue
		}
		for _, l := range placeLabels(spans, boxes, x0, x0+width+20) {
			b.f(`<text x="%.1f" y="%.1f" %s font-size="10" fill="%s" %s pointer-events="none">%s</text>`+"\n",
				l.x, y+laneRow/2+4, textFont, textColor, haloText, esc(l.text))
		}
	}
	b.f("</svg>\n")
	return b.Bytes()
}

type placed struct {
	x    float64
	text string
}

// placeLabels sets each span's label inside it when it fits, else just after
// it, else just before it, wherever it overlaps neither another span nor a
// label already placed; a label with no room is left to the tooltip.
func placeLabels(spans []sdk.Span, boxes [][2]float64, left, right float64) []placed {
	const pad = 4
	taken := slices.Clone(boxes)
	free := func(a, b float64, skip int) bool {
		if a < left-pad || b > right {
			return false
		}
		for k, t := range taken {
			if k != skip && a < t[1]+pad && t[0]-pad < b {
				return false
			}
		}
		return true
	}
	var out []placed
	for j, s := range spans {
		if s.Label == "" {
			continue
		}
		tw := float64(utf8.RuneCountInString(s.Label)) * 6.2
		x1, x2 := boxes[j][0], boxes[j][1]
		switch {
		case tw+2*pad <= x2-x1:
			out = append(out, placed{x1 + pad, s.Label})
		case free(x2+pad, x2+pad+tw, j):
			out = append(out, placed{x2 + pad, s.Label})
			taken = append(taken, [2]float64{x2 + pad, x2 + pad + tw})
		case free(x1-pad-tw, x1-pad, j):
			out = append(out, placed{x1 - pad - tw, s.Label})
			taken = append(taken, [2]float64{x1 - pad - tw, x1 - pad})
		}
	}
	return out
}
