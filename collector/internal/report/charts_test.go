package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestStackedSVG(t *testing.T) {
	tests := []struct {
		name  string
		ch    Stacked
		want  []string
		avoid []string
	}{
		{"empty", Stacked{Title: "none", Unit: "us"}, []string{"no data"}, nil},
		{
			"hosts",
			Stacked{Title: "Device op time per request by component <fleet>", Unit: "us", Series: []string{"attention", "mlp"},
				Bars: []StackedBar{
					{Label: "host-a", Values: []float64{100, 100}},
					{Label: "host-c", Values: []float64{140, 100}, Highlight: true},
					{Label: "host-d", Values: []float64{math.NaN(), -1}},
				}},
			[]string{"&lt;fleet&gt;", "host-c: 240.000 µs; attention 140.000 µs; mlp 100.000 µs", "240.000 µs (outlier)", `stroke="#C62828"`, ">attention<", ">mlp<", "host-d: 0.000 µs"},
			[]string{"NaN", "<fleet>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := StackedSVG(tt.ch)
			wellFormed(t, b)
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(string(b), a) {
					t.Errorf("SVG holds %q", a)
				}
			}
		})
	}
	// Two highlighted of three bars: two outlined bars.
	b := string(StackedSVG(Stacked{Unit: "us", Series: []string{"x"}, Bars: []StackedBar{{"a", []float64{1}, true}, {"b", []float64{1}, false}, {"c", []float64{1}, true}}}))
	if got := strings.Count(b, `fill="none" stroke="#C62828"`); got != 2 {
		t.Errorf("%d outlined bars, want 2", got)
	}
}

func TestLinesSVG(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ch := Lines{Title: "attention per request", Unit: "us", YLabel: "µs per request", Series: []LineSeries{
		{Name: "host-a", Points: []LinePoint{{t0, 100, "c1"}, {t0.Add(time.Hour), 140, "c2"}}},
		{Name: "fleet median", Bold: true, Points: []LinePoint{{t0, 100, ""}, {t0.Add(time.Hour), 120, ""}}},
	}}
	b := string(LinesSVG(ch))
	wellFormed(t, []byte(b))
	for _, w := range []string{"<polyline", "host-a 2026-01-01 01:00:00: 140.000 µs (c2)", `stroke-width="3"`, "µs per request (µs)", "commit time (UTC)", ">00:00<"} {
		if !strings.Contains(b, w) {
			t.Errorf("SVG lacks %q", w)
		}
	}
	if got := strings.Count(b, "<circle"); got != 4 {
		t.Errorf("%d points drawn, want 4", got)
	}
	// One point, no data.
	wellFormed(t, LinesSVG(Lines{Series: []LineSeries{{Name: "x", Points: []LinePoint{{t0, 5, ""}}}}}))
	if b := string(LinesSVG(Lines{Title: "t"})); !strings.Contains(b, "no data") {
		t.Errorf("empty chart lacks 'no data'")
	}
}

func TestTimeTicks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 7, 0, 0, time.UTC)
	tests := []struct {
		span time.Duration
		n    int
		step time.Duration
	}{
		{time.Hour, 5, 15 * time.Minute},
		{7 * 24 * time.Hour, 5, 24 * time.Hour},
		{30 * time.Second, 5, 15 * time.Second},
	}
	for _, tt := range tests {
		got := timeTicks(t0, t0.Add(tt.span), tt.n)
		if len(got) == 0 || len(got) > tt.n+1 {
			t.Errorf("timeTicks(%v) = %v", tt.span, got)
			continue
		}
		for i := 1; i < len(got); i++ {
			if d := got[i].Sub(got[i-1]); d != tt.step {
				t.Errorf("timeTicks(%v) step %v, want %v", tt.span, d, tt.step)
			}
		}
		if got[0].Before(t0) || got[len(got)-1].After(t0.Add(tt.span)) {
			t.Errorf("timeTicks(%v) = %v leaves the range", tt.span, got)
		}
	}
}
