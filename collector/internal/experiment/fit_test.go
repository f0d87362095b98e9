package experiment

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestLineFit(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   Fit
		ok     bool
	}{
		{"exact line", []float64{1, 2, 3}, []float64{5, 7, 9}, Fit{Slope: 2, Intercept: 3, R2: 1, N: 3}, true},
		// y = 1, 3, 2: slope 0.5, intercept 1, residuals -0.5 1 -0.5, ssr 1.5, syy 2.
		{"noisy", []float64{1, 2, 3}, []float64{1, 3, 2}, Fit{Slope: 0.5, Intercept: 1, R2: 0.25, N: 3}, true},
		{"flat", []float64{1, 2}, []float64{4, 4}, Fit{Slope: 0, Intercept: 4, R2: 1, N: 2}, true},
		{"one point", []float64{1}, []float64{1}, Fit{}, false},
		{"one x", []float64{2, 2}, []float64{1, 3}, Fit{}, false},
		{"mismatched", []float64{1, 2}, []float64{1}, Fit{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LineFit(tt.xs, tt.ys)
			if ok != tt.ok || !near(got.Slope, tt.want.Slope) || !near(got.Intercept, tt.want.Intercept) || !near(got.R2, tt.want.R2) || got.N != tt.want.N {
				t.Errorf("LineFit(%v, %v) = %+v, %v; want %+v, %v", tt.xs, tt.ys, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPowerFit(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		k, a   float64
		r2     float64
		n      int
		ok     bool
	}{
		{"square", []float64{128, 512, 2048}, []float64{3 * 128 * 128, 3 * 512 * 512, 3 * 2048 * 2048}, 2, 3, 1, 3, true},
		{"linear", []float64{1, 4, 16}, []float64{0.5, 2, 8}, 1, 0.5, 1, 3, true},
		{"zero y left out", []float64{1, 2, 4}, []float64{0, 2, 4}, 1, 1, 1, 2, true},
		{"too few positive", []float64{1, 2}, []float64{0, 2}, 0, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, a, r2, n, ok := PowerFit(tt.xs, tt.ys)
			if ok != tt.ok || !near(k, tt.k) || !near(a, tt.a) || !near(r2, tt.r2) || n != tt.n {
				t.Errorf("PowerFit = k %v a %v r2 %v n %d ok %v; want %v %v %v %d %v", k, a, r2, n, ok, tt.k, tt.a, tt.r2, tt.n, tt.ok)
			}
		})
	}
}
