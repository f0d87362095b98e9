package experiment

import (
	"bytes"
	"fmt"
	"html"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart is one scaling chart: µs per request against one parameter, one
// line per component (and the device total), on log-log axes.
type Chart struct {
	// Title is the chart's caption.
	Title string
	// Name is a file name stem, e.g. "score-batch-4".
	Name string
	// Param is the x axis's parameter.
	Param string
	// Series are the lines, the device total first.
	Series []Series
}

// Series is one line of a chart.
type Series struct {
	// Name is the line's label.
	Name string
	// Points are (x, µs) pairs, by x.
	Points [][2]float64
}

// palette colours the lines after the device total's black.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// maxSeries bounds a chart's lines: the device total and the largest
// components.
const maxSeries = 9

// Charts returns the report's charts: for each endpoint and each value of
// the other parameters, device time and each component per request
// against input length (or the only parameter varied).
func Charts(r *Report) []Chart {
	param := ""
	if slices.Contains(r.Params, ParamInputLen) {
		param = ParamInputLen
	} else if len(r.Params) > 0 {
		param = r.Params[0]
	}
	if param == "" {
		return nil
	}
	var out []Chart
	for _, ep := range r.Endpoints {
		order, groups := groupCells(r, ep, param)
		for _, k := range order {
			cells := groups[k]
			slices.SortFunc(cells, func(a, b *CellReport) int { return int(a.Params[param] - b.Params[param]) })
			title := fmt.Sprintf("%s: device time per request against %s", ep, param)
			if k != "" {
				title += " (" + strings.ReplaceAll(k, ",", ", ") + ")"
			}
			ch := Chart{Title: title, Name: chartName(ep, k), Param: param}
			metricsShown := []string{MetricDevice}
			for _, c := range r.Components {
				if len(metricsShown) >= maxSeries {
					break
				}
				metricsShown = append(metricsShown, "component:"+c)
			}
			for _, m := range metricsShown {
				s := Series{Name: strings.TrimPrefix(m, "component:")}
				if m == MetricDevice {
					s.Name = "device (total)"
				}
				for _, c := range cells {
					s.Points = append(s.Points, [2]float64{float64(c.Params[param]), c.Value(m)})
				}
				ch.Series = append(ch.Series, s)
			}
			out = append(out, ch)
		}
	}
	return out
}

// chartName makes a file name stem from an endpoint and fixed values.
func chartName(ep, fixed string) string {
	s := strings.Trim(strings.NewReplacer("/", "-", "=", "-", ",", "-").Replace(strings.TrimPrefix(ep, "/v1")), "-")
	if fixed != "" {
		s += "-" + strings.NewReplacer("=", "-", ",", "-").Replace(fixed)
	}
	return s
}

// SVG draws the chart.
func (ch Chart) SVG() []byte {
	const w, h, left, right, top, bottom = 760.0, 380.0, 70.0, 200.0, 36.0, 46.0
	pw, ph := w-left-right, h-top-bottom
	var xs, ys []float64
	for _, s := range ch.Series {
		for _, p := range s.Points {
			if p[0] > 0 {
				xs = append(xs, p[0])
			}
			if p[1] > 0 {
				ys = append(ys, p[1])
			}
		}
	}
	var b bytes.Buffer
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`, w, h, w, h)
	f(`<title>%s</title><rect width="100%%" height="100%%" fill="#fff"/>`, esc(ch.Title))
	f(`<text x="%g" y="20" font-size="13" font-weight="bold">%s</text>`, left, esc(ch.Title))
	if len(xs) == 0 || len(ys) == 0 {
		f(`<text x="%g" y="%g" fill="#666">no cell has requests yet</text></svg>`, left, top+ph/2)
		return b.Bytes()
	}
	x0, x1 := logBounds(slices.Min(xs), slices.Max(xs))
	y0, y1 := logBounds(slices.Min(ys), slices.Max(ys))
	px := func(x float64) float64 { return left + pw*(math.Log10(x)-x0)/(x1-x0) }
	py := func(y float64) float64 { return top + ph - ph*(math.Log10(y)-y0)/(y1-y0) }
	// Grid: decades on y, the parameter's values on x.
	for e := math.Ceil(y0); e <= y1; e++ {
		y := py(math.Pow(10, e))
		f(`<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, left+pw, y, y)
		f(`<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-6, y, esc(usLabel(math.Pow(10, e))))
	}
	for _, x := range uniq(xs) {
		X := px(x)
		f(`<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#eee"/>`, X, X, top, top+ph)
		f(`<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, X, top+ph+16, strconv.FormatFloat(x, 'f', -1, 64))
	}
	f(`<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, left, top, pw, ph)
	f(`<text x="%g" y="%g" text-anchor="middle">%s (log scale)</text>`, left+pw/2, h-8, esc(ch.Param))
	f(`<text transform="translate(14 %g) rotate(-90)" text-anchor="middle">time per request (log scale)</text>`, top+ph/2)
	for i, s := range ch.Series {
		color, width := "#000", 2.5
		if i > 0 {
			color, width = palette[(i-1)%len(palette)], 1.5
		}
		var pts []string
		for _, p := range s.Points {
			if p[0] > 0 && p[1] > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
			}
		}
		if len(pts) > 1 {
			f(`<polyline fill="none" stroke="%s" stroke-width="%g" points="%s"/>`, color, width, strings.Join(pts, " "))
		}
		for _, p := range s.Points {
			if p[0] > 0 && p[1] > 0 {
				f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s at %s=%g: %s</title></circle>`,
					px(p[0]), py(p[1]), color, esc(s.Name), esc(ch.Param), p[0], esc(usLabel(p[1])))
			}
		}
		ly := top + 8 + float64(i)*16
		f(`<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="%g"/>`, left+pw+12, left+pw+30, ly, ly, color, width)
		f(`<text x="%g" y="%g" dominant-baseline="middle">%s</text>`, left+pw+36, ly, esc(cutText(s.Name, 24)))
	}
	f(`</svg>`)
	return b.Bytes()
}

// logBounds returns decade-padded log10 bounds around [lo, hi].
func logBounds(lo, hi float64) (float64, float64) {
	a, b := math.Log10(lo), math.Log10(hi)
	if b-a < 1e-9 {
		a, b = a-0.5, b+0.5
	}
	pad := (b - a) * 0.08
	return a - pad, b + pad
}

// uniq returns the distinct values, sorted.
func uniq(v []float64) []float64 {
	m := map[float64]bool{}
	for _, x := range v {
		m[x] = true
	}
	return slices.Sorted(maps.Keys(m))
}

// usLabel formats microseconds for an axis or a tooltip.
func usLabel(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'g', 3, 64) + " s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'g', 3, 64) + " µs"
}

func esc(s string) string { return html.EscapeString(s) }

// cutText shortens s to n runes with an ellipsis.
func cutText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
