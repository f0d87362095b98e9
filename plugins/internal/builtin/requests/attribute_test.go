package requests

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

type iv = capture.Interval

func TestAttribute(t *testing.T) {
	tests := []struct {
		name    string
		spans   []iv
		busy    []iv
		host    []iv
		windows []iv
		ops     []OpTime
		want    []Share
		inSpans int64
	}{
		{
			name:  "one request: device, host-only work and waiting",
			spans: []iv{{0, 100}},
			busy:  []iv{{10, 30}, {50, 60}},
			host:  []iv{{5, 95}},
			// host only: 5..10, 30..50, 60..95 = 5 + 20 + 35
			windows: []iv{{8, 32}, {48, 62}, {200, 300}},
			ops:     []OpTime{{iv{10, 30}, "attention"}, {iv{50, 60}, "mlp"}},
			want:    []Share{{Device: 30, Host: 60, Windows: 2, Ops: map[string]float64{"attention": 20, "mlp": 10}}},
			inSpans: 30,
		},
		{
			name:  "overlapping requests split the stretch they share",
			spans: []iv{{0, 100}, {50, 150}},
			busy:  []iv{{40, 70}, {110, 135}},
			ops:   []OpTime{{iv{40, 70}, "attention"}, {iv{110, 135}, "mlp"}},
			// 0..50 r1 alone: 10; 50..100 both: 20 split 10/10; 100..150 r2 alone: 25.
			want: []Share{
				{Device: 20, Shared: 10, Ops: map[string]float64{"attention": 20}},
				{Device: 35, Shared: 10, Ops: map[string]float64{"attention": 10, "mlp": 25}},
			},
			inSpans: 55,
		},
		{
			name:  "batched requests: the remainder goes to the first sent",
			spans: []iv{{0, 90}, {0, 90}, {0, 90}},
			busy:  []iv{{0, 10}},
			host:  []iv{{10, 21}},
			want: []Share{
				{Device: 4, Shared: 4, Host: 4, Ops: map[string]float64{}},
				{Device: 3, Shared: 3, Host: 4, Ops: map[string]float64{}},
				{Device: 3, Shared: 3, Host: 3, Ops: map[string]float64{}},
			},
			inSpans: 10,
		},
		{
			name:  "device time outside every span is nobody's",
			spans: []iv{{100, 200}},
			busy:  []iv{{0, 50}, {150, 250}},
			want:  []Share{{Device: 50, Ops: map[string]float64{}}},
			// 50 of the 150 busy picoseconds are inside the span.
			inSpans: 50,
		},
		{
			name:    "a zero-length request gets nothing",
			spans:   []iv{{10, 10}, {0, 20}},
			busy:    []iv{{0, 20}},
			want:    []Share{{Ops: map[string]float64{}}, {Device: 20, Ops: map[string]float64{}}},
			inSpans: 20,
		},
		{
			name:  "no requests",
			busy:  []iv{{0, 20}},
			want:  []Share{},
			spans: []iv{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Attribute(tt.spans, tt.busy, tt.host, tt.windows, tt.ops)
			if diff := cmp.Diff(tt.want, got.Shares); diff != "" {
				t.Errorf("Attribute shares (-want +got):\n%s", diff)
			}
			if got.InSpans != tt.inSpans {
				t.Errorf("InSpans = %d, want %d", got.InSpans, tt.inSpans)
			}
			var sum int64
			for _, s := range got.Shares {
				sum += s.Device
			}
			if sum != got.InSpans {
				t.Errorf("device shares sum to %d, want InSpans %d", sum, got.InSpans)
			}
		})
	}
}

func TestSubtract(t *testing.T) {
	tests := []struct {
		a, b, want []iv
	}{
		{[]iv{{0, 100}}, []iv{{10, 20}, {50, 60}}, []iv{{0, 10}, {20, 50}, {60, 100}}},
		{[]iv{{0, 10}, {20, 30}}, []iv{{5, 25}}, []iv{{0, 5}, {25, 30}}},
		{[]iv{{0, 10}}, []iv{{0, 10}}, nil},
		{[]iv{{0, 10}}, nil, []iv{{0, 10}}},
		{nil, []iv{{0, 10}}, nil},
	}
	for _, tt := range tests {
		if got := subtract(tt.a, tt.b); !cmp.Equal(got, tt.want) {
			t.Errorf("subtract(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSegments(t *testing.T) {
	got := segments([]iv{{0, 100}, {50, 150}, {50, 100}, {200, 200}})
	want := []segment{
		{iv{0, 50}, []int{0}},
		{iv{50, 100}, []int{0, 1, 2}},
		{iv{100, 150}, []int{1}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(segment{})); diff != "" {
		t.Errorf("segments (-want +got):\n%s", diff)
	}
}
