package capture

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWindows(t *testing.T) {
	span := Interval{0, 100_000}
	tests := []struct {
		name     string
		busy     []Interval
		gap, pad int64
		want     []Interval
	}{
		{"empty", nil, 10, 1, nil},
		{"one", []Interval{{50, 60}}, 10, 1, []Interval{{49, 61}}},
		{"gap shorter merges", []Interval{{50, 60}, {69, 70}}, 10, 0, []Interval{{50, 70}}},
		{"gap equal does not merge", []Interval{{50, 60}, {70, 71}}, 10, 0, []Interval{{50, 60}, {70, 71}}},
		{"overlapping busy unions", []Interval{{10, 30}, {20, 40}, {5, 12}}, 1, 0, []Interval{{5, 40}}},
		{"pad clipped to span", []Interval{{0, 5}, {99_990, 100_000}}, 10, 100, []Interval{{0, 105}, {99_890, 100_000}}},
		{"pad makes overlap", []Interval{{100, 110}, {130, 140}}, 10, 15, []Interval{{85, 155}}},
		{"unsorted input", []Interval{{500, 510}, {100, 110}}, 10, 0, []Interval{{100, 110}, {500, 510}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Windows(append([]Interval(nil), tt.busy...), tt.gap, tt.pad, span)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Windows(%v, %d, %d) (-want +got):\n%s", tt.busy, tt.gap, tt.pad, diff)
			}
		})
	}
}

func TestHits(t *testing.T) {
	w := []Interval{{10, 20}, {40, 50}}
	tests := []struct {
		iv   Interval
		want bool
	}{
		{Interval{0, 9}, false},
		{Interval{0, 10}, true}, // closed: touching counts
		{Interval{20, 20}, true},
		{Interval{21, 39}, false},
		{Interval{25, 45}, true},
		{Interval{50, 60}, true},
		{Interval{51, 60}, false},
		{Interval{0, 100}, true},
	}
	for _, tt := range tests {
		if got := Hits(w, tt.iv); got != tt.want {
			t.Errorf("Hits(%v, %v) = %v, want %v", w, tt.iv, got, tt.want)
		}
	}
	if Hits(nil, Interval{0, 1}) {
		t.Error("Hits(nil) = true")
	}
}

func TestMicros(t *testing.T) {
	tests := []struct {
		ps   int64
		want string
	}{
		{0, "0"},
		{1, "0.000001"},
		{1_500_000, "1.5"},
		{5_045_165_500_000, "5045165.5"},
		{-250_000, "-0.25"},
		{-1_000_000, "-1"},
	}
	for _, tt := range tests {
		if got := MicrosOf(tt.ps).String(); got != tt.want {
			t.Errorf("MicrosOf(%d) = %s, want %s", tt.ps, got, tt.want)
		}
	}
}

func TestAbsPSExact(t *testing.T) {
	// 2026 epoch times in ps overflow int64; AbsPS must not.
	c := &Capture{BaseNS: 1_770_323_795_654_017_600}
	us, ps := c.AbsPS(1_000_000_500) // 1000.0005 µs later
	if us != 1_770_323_795_655_017 || ps != 600_500 {
		t.Errorf("AbsPS = %d µs + %d ps, want 1770323795655017 µs + 600500 ps", us, ps)
	}
	us, ps = c.AbsPS(-700_000)
	if us != 1_770_323_795_654_016 || ps != 900_000 {
		t.Errorf("AbsPS(-0.7µs) = %d µs + %d ps", us, ps)
	}
}

func TestSummarizeJSON(t *testing.T) {
	c := &Capture{
		BaseNS: 1_000_000, Span: Interval{0, 10 * Millisecond}, Gap: DefaultGap, Pad: DefaultPad,
		Windows: []Interval{{Millisecond, 2 * Millisecond}},
		Planes: []*Plane{
			{Name: "/device:TPU:0", Busy: 250 * Microsecond, OpEvents: 3, Lines: []*Line{{Name: "XLA Ops", Events: []Event{{Name: "a"}}}}},
			{Name: "/device:TPU:1"},
			{Name: "/host:CPU"},
		},
		EventsTotal: 10,
	}
	s := Summarize(c)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["span_us"].(float64) != 10000 || got["events_kept"].(float64) != 1 || got["device_op_events"].(float64) != 3 {
		t.Errorf("summary JSON = %s", b)
	}
	devs := got["devices"].(map[string]any)
	if len(devs) != 1 {
		t.Fatalf("devices = %v, want only the device with ops", devs)
	}
	d := devs["/device:TPU:0"].(map[string]any)
	if d["busy_us"].(float64) != 250 || d["idle_us"].(float64) != 9750 || d["idle_pct"].(float64) != 97.5 {
		t.Errorf("device = %v", d)
	}
	w := got["windows"].([]any)[0].([]any)
	if w[0].(float64) != 2000 || w[1].(float64) != 3000 {
		t.Errorf("windows = %v, want absolute [2000 3000] (base 1000 ns = 1 µs)", w)
	}
}

func TestMicrosJSONRoundTrip(t *testing.T) {
	for _, in := range []string{"1417.36375", "0", "5045165.5", "1770323795654.017600", "-0.25", "0.0000005"} {
		var m Micros
		if err := json.Unmarshal([]byte(in), &m); err != nil {
			t.Fatalf("Unmarshal(%s): %v", in, err)
		}
		want := map[string]string{"1770323795654.017600": "1770323795654.0176", "0.0000005": "0.000001"}[in]
		if want == "" {
			want = in
		}
		if got := m.String(); got != want {
			t.Errorf("Unmarshal(%s).String() = %s, want %s", in, got, want)
		}
	}
	var m Micros
	for _, bad := range []string{`"1"`, "1e3", "abc", "1.2.3"} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}
