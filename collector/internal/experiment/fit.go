package experiment

import "math"

// Fit is a straight line through points, by least squares: y = Intercept +
// Slope·x, with R² its coefficient of determination. A power law y = a·x^k
// is the line through (log x, log y): Slope is then k and exp(Intercept) a.
type Fit struct {
	// Slope and Intercept are the line's.
	Slope, Intercept float64
	// R2 is 1 − (residual sum of squares)/(total sum of squares): 1 for a
	// perfect fit; 1 too when every y is the same and the line hits them.
	R2 float64
	// N is the number of points fitted.
	N int
}

// LineFit fits y = Intercept + Slope·x. It reports false with fewer than two
// distinct x values.
func LineFit(xs, ys []float64) (Fit, bool) {
	n := len(xs)
	if n < 2 || n != len(ys) {
		return Fit{}, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return Fit{}, false
	}
	f := Fit{Slope: sxy / sxx, N: n}
	f.Intercept = my - f.Slope*mx
	var ssr float64
	for i := range xs {
		r := ys[i] - (f.Intercept + f.Slope*xs[i])
		ssr += r * r
	}
	switch {
	case syy > 0:
		f.R2 = 1 - ssr/syy
	case ssr == 0:
		f.R2 = 1
	}
	return f, true
}

// PowerFit fits y = a·x^k by a line through (log x, log y), leaving out
// points with x or y not positive. It returns k, a and the R² of the
// log-log line, and false with fewer than two distinct positive x values.
func PowerFit(xs, ys []float64) (k, a, r2 float64, n int, ok bool) {
	var lx, ly []float64
	for i := range xs {
		if xs[i] > 0 && ys[i] > 0 {
			lx = append(lx, math.Log(xs[i]))
			ly = append(ly, math.Log(ys[i]))
		}
	}
	f, ok := LineFit(lx, ly)
	if !ok {
		return 0, 0, 0, 0, false
	}
	return f.Slope, math.Exp(f.Intercept), f.R2, f.N, true
}
