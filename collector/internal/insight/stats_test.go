package insight

import (
	"math"
	"testing"
)

func TestMedianMADQuantile(t *testing.T) {
	tests := []struct {
		name          string
		xs            []float64
		median, mad   float64
		p90, p50, max float64
	}{
		{"none", nil, 0, 0, 0, 0, 0},
		{"one", []float64{7}, 7, 0, 7, 7, 7},
		{"two", []float64{100, 140}, 120, 20, 140, 100, 140},
		{"odd", []float64{90, 110, 100, 130, 120}, 110, 10, 130, 110, 130},
		{"even", []float64{100, 120, 90, 110, 130, 200}, 115, 15, 200, 110, 200},
		{"identical", []float64{5, 5, 5, 5}, 5, 0, 5, 5, 5},
		{"ten", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5.5, 2.5, 9, 5, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.xs); got != tt.median {
				t.Errorf("Median(%v) = %v, want %v", tt.xs, got, tt.median)
			}
			if got := MAD(tt.xs, tt.median); got != tt.mad {
				t.Errorf("MAD(%v) = %v, want %v", tt.xs, got, tt.mad)
			}
			if got := Quantile(tt.xs, 0.9); got != tt.p90 {
				t.Errorf("Quantile(%v, 0.9) = %v, want %v", tt.xs, got, tt.p90)
			}
			if got := Quantile(tt.xs, 0.5); got != tt.p50 {
				t.Errorf("Quantile(%v, 0.5) = %v, want %v", tt.xs, got, tt.p50)
			}
			if len(tt.xs) > 0 {
				if got := statsOf(tt.xs); got.Max != tt.max || got.N != len(tt.xs) {
					t.Errorf("statsOf(%v) = %+v, want max %v, n %d", tt.xs, got, tt.max, len(tt.xs))
				}
			}
		})
	}
}

func TestRuleFar(t *testing.T) {
	r := DefaultRule
	tests := []struct {
		name      string
		x, m, mad float64
		n         int
		floor     float64
		want      bool
	}{
		{"exactly 10 % is not far", 110, 100, 0, 5, 0, false},
		{"just past 10 % with MAD 0", 110.001, 100, 0, 5, 0, true},
		{"below, past 10 %", 89, 100, 0, 5, 0, true},
		{"past 10 % but within 3 MADs", 125, 100, 20, 5, 0, false}, // 3·1.4826·20 = 88.956
		{"past 10 % and 3 MADs", 190, 100, 20, 5, 0, true},         // 90 > 88.956
		{"few values: MAD ignored", 125, 100, 20, 2, 0, true},
		{"floor", 2, 1, 0, 5, 1.5, false},
		{"past the floor", 3, 1, 0, 5, 1.5, true},
		{"median 0", 0.1, 0, 0, 5, 0, true},
		{"equal", 100, 100, 0, 5, 0, false},
		{"NaN", math.NaN(), 100, 0, 5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := r
			r.Floor = tt.floor
			if got := r.Far(tt.x, tt.m, tt.mad, tt.n); got != tt.want {
				t.Errorf("Far(%v, median %v, MAD %v, n %d) = %v, want %v", tt.x, tt.m, tt.mad, tt.n, got, tt.want)
			}
		})
	}
}
