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
			spans: []iv{{Start: 0, End: 100}},
			busy:  []iv{{Start: 10, End: 30}, {Start: 50, End: 60}},
			host:  []iv{{Start: 5, End: 95}},
			// host only: 5..10, 30..50, 60..95 = 5 + 20 + 35
			windows: []iv{{Start: 8, End: 32}, {Start: 48, End: 62}, {Start: 200, End: 300}},
			ops:     []OpTime{{iv{Start: 10, End: 30}, "attention"}, {iv{Start: 50, End: 60}, "mlp"}},
			want:    []Share{{Device: 30, Host: 60, Windows: 2, Ops: map[string]float64{"attention": 20, "mlp": 10}}},
			inSpans: 30,
		},
		{
			name:  "overlapping requests split the stretch they share",
			spans: []iv{{Start: 0, End: 100}, {Start: 50, End: 150}},
			busy:  []iv{{Start: 40, End: 70}, {Start: 110, End: 135}},
			ops:   []OpTime{{iv{Start: 40, End: 70}, "attention"}, {iv{Start: 110, End: 135}, "mlp"}},
			// 0..50 r1 alone: 10; 50..100 both: 20 split 10/10; 100..150 r2 alone: 25.
			want: []Share{
				{Device: 20, Shared: 10, Ops: map[string]float64{"attention": 20}},
				{Device: 35, Shared: 10, Ops: map[string]float64{"attention": 10, "mlp": 25}},
			},
			inSpans: 55,
		},
		{
			name:  "batched requests: the remainder goes to the first sent",
			spans: []iv{{Start: 0, End: 90}, {Start: 0, End: 90}, {Start: 0, End: 90}},
			busy:  []iv{{Start: 0, End: 10}},
			host:  []iv{{Start: 10, End: 21}},
			want: []Share{
				{Device: 4, Shared: 4, Host: 4, Ops: map[string]float64{}},
				{Device: 3, Shared: 3, Host: 4, Ops: map[string]float64{}},
				{Device: 3, Shared: 3, Host: 3, Ops: map[string]float64{}},
			},
			inSpans: 10,
		},
		{
			name:  "device time outside every span is nobody's",
			spans: []iv{{Start: 100, End: 200}},
			busy:  []iv{{Start: 0, End: 50}, {Start: 150, End: 250}},
			want:  []Share{{Device: 50, Ops: map[string]float64{}}},
			// 50 of the 150 busy picoseconds are inside the span.
			inSpans: 50,
		},
		{
			name:    "a zero-length request gets nothing",
			spans:   []iv{{Start: 10, End: 10}, {Start: 0, End: 20}},
			busy:    []iv{{Start: 0, End: 20}},
			want:    []Share{{Ops: map[string]float64{}}, {Device: 20, Ops: map[string]float64{}}},
			inSpans: 20,
		},
		{
			name:  "no requests",
			busy:  []iv{{Start: 0, End: 20}},
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
		{[]iv{{Start: 0, End: 100}}, []iv{{Start: 10, End: 20}, {Start: 50, End: 60}}, []iv{{Start: 0, End: 10}, {Start: 20, End: 50}, {Start: 60, End: 100}}},
		{[]iv{{Start: 0, End: 10}, {Start: 20, End: 30}}, []iv{{Start: 5, End: 25}}, []iv{{Start: 0, End: 5}, {Start: 25, End: 30}}},
		{[]iv{{Start: 0, End: 10}}, []iv{{Start: 0, End: 10}}, nil},
		{[]iv{{Start: 0, End: 10}}, nil, []iv{{Start: 0, End: 10}}},
		{nil, []iv{{Start: 0, End: 10}}, nil},
	}
	for _, tt := range tests {
		if got := subtract(tt.a, tt.b); !cmp.Equal(got, tt.want) {
			t.Errorf("subtract(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSegments(t *testing.T) {
	got := segments([]iv{{Start: 0, End: 100}, {Start: 50, End: 150}, {Start: 50, End: 100}, {Start: 200, End: 200}})
	want := []segment{
		{iv{Start: 0, End: 50}, []int{0}},
		{iv{Start: 50, End: 100}, []int{0, 1, 2}},
		{iv{Start: 100, End: 150}, []int{1}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(segment{})); diff != "" {
		t.Errorf("segments (-want +got):\n%s", diff)
	}
}
