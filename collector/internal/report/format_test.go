package report

import (
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk"
)

func TestPct(t *testing.T) {
	tests := []struct {
		v      float64
		digits int
		want   string
	}{
		{29.902374511274413, 2, "29.90%"},
		{36.5105137362932, 1, "36.5%"},
		{99.96996924580571, 2, "99.97%"},
		{99.99872318895552, 2, "99.999%"},
		{0.0001, 2, "0.0001%"},
		{0, 2, "0.00%"},
		{100, 1, "100.0%"},
		{0.00000001, 2, "0.000000%"},
	}
	for _, tt := range tests {
		if got := pct(tt.v, tt.digits); got != tt.want {
			t.Errorf("pct(%v, %d) = %q, want %q", tt.v, tt.digits, got, tt.want)
		}
	}
}

func TestCells(t *testing.T) {
	top, host, other := layoutOf("top_ops"), layoutOf("host_events"), layoutOf("my_plugin")
	us := sdk.Column{Key: "total_us", Label: "Total", Unit: "us"}
	pc := sdk.Column{Key: "pct", Label: "% of device op time", Unit: "%"}
	n := sdk.Column{Key: "count", Label: "Count"}
	tests := []struct {
		l    layout
		c    sdk.Column
		v    any
		want string
	}{
		{top, us, 453.05125, "453.051"},
		{top, pc, 29.902374511274413, "29.90%"},
		{layoutOf("components"), us, 553.17125, "553.2"},
		{layoutOf("components"), pc, 36.5105137362932, "36.5%"},
		{layoutOf("categories"), us, 453.05125, "453.1"},
		{layoutOf("roofline"), sdk.Column{Key: "tflops_per_s"}, 918.04321, "918.043"},
		{layoutOf("roofline"), sdk.Column{Key: "intensity"}, 0.126, "0.13"},
		{layoutOf("roofline"), sdk.Column{Key: "intensity"}, "", ""},
		{layoutOf("roofline"), sdk.Column{Key: "occurrences"}, int64(1200), "1,200"},
		{layoutOf("roofline"), sdk.Column{Key: "pct_peak_bw", Unit: "%"}, 42.04, "42.0%"},
		{host, us, 5045165.5, "5,045.166"},
		{host, us, int64(105028), "105.028"},
		{other, us, 1.5, "1.500"},
		{other, pc, 12.345, "12.35%"},
		{other, n, int64(16940), "16,940"},
		{other, n, 2.5, "2.5"},
		{other, n, "text", "text"},
		{other, n, nil, ""},
		{other, n, true, "true"},
	}
	for _, tt := range tests {
		if got := tt.l.cell(tt.c, tt.v); got != tt.want {
			t.Errorf("cell(%s, %v) = %q, want %q", tt.c.Key, tt.v, got, tt.want)
		}
	}
	headers := []struct {
		l    layout
		c    sdk.Column
		want string
	}{
		{top, us, "Total (µs)"},
		{host, us, "Total (ms)"},
		{top, pc, "% of device op time"},
		{other, sdk.Column{Key: "idle_pct", Label: "Idle", Unit: "%"}, "Idle (%)"},
		{other, sdk.Column{Key: "busy_us", Label: "Busy", Unit: "us"}, "Busy (µs)"},
		{other, sdk.Column{Key: "x"}, "x"},
	}
	for _, tt := range headers {
		if got := tt.l.header(tt.c); got != tt.want {
			t.Errorf("header(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestMetric(t *testing.T) {
	tests := []struct {
		m    sdk.Metric
		want string
	}{
		{sdk.Metric{Value: 5045165.5, Unit: "us"}, "5,045,165.500 µs (5.045 s)"},
		{sdk.Metric{Value: 1515.10125, Unit: "us"}, "1,515.101 µs (1.515 ms)"},
		{sdk.Metric{Value: 12.5, Unit: "us"}, "12.500 µs"},
		{sdk.Metric{Value: 99.97, Unit: "%"}, "99.97%"},
		{sdk.Metric{Value: 355820}, "355,820"},
		{sdk.Metric{Value: 0.25}, "0.25"},
		{sdk.Metric{Value: 3, Unit: "GB"}, "3 GB"},
	}
	for _, tt := range tests {
		if got := metric(tt.m); got != tt.want {
			t.Errorf("metric(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestMDCell(t *testing.T) {
	tests := []struct {
		s       string
		numeric bool
		want    string
	}{
		{"$error.py:120 __init__", false, "`$error.py:120 __init__`"},
		{"a|b", false, "`a\\|b`"},
		{"has `tick`", false, "`` has `tick` ``"},
		{"`edge", false, "`` `edge ``"},
		{"12.5", true, "12.5"},
		{"", false, ""},
	}
	for _, tt := range tests {
		if got := mdCell(tt.s, tt.numeric); got != tt.want {
			t.Errorf("mdCell(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
