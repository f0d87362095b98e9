package sdk

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

func TestSectionValidate(t *testing.T) {
	tests := []struct {
		name    string
		sec     *Section
		wantErr string // "" means valid
	}{
		{"empty", &Section{}, ""},
		{"full", &Section{
			Name: "top_ops", Title: "Top ops",
			Summary: []Metric{{Key: "total_us", Value: 1.5, Unit: "us"}},
			Columns: []Column{{Key: "name"}, {Key: "n"}},
			Rows:    []Row{{"name": "a", "n": int64(3), "x": 2.5, "i": 7, "u": uint32(9)}},
			Charts: []Chart{
				{Kind: ChartBar, Bars: []Bar{{Label: "a", Value: 1}}},
				{Kind: ChartTimeline, Spans: []Span{{Lane: "w", Start: 1, End: 1}}},
			},
		}, ""},
		{"nil", nil, "sdk: invalid section: no section (nil)"},
		{"bad name", &Section{Name: "Top Ops"}, `sdk: invalid section: name "Top Ops" is not lower snake case`},
		{"nan metric", &Section{Summary: []Metric{{Key: "k", Value: math.NaN()}}}, `sdk: invalid section: summary "k" is NaN`},
		{"no metric key", &Section{Summary: []Metric{{Value: 1}}}, "sdk: invalid section: summary 0 has no key"},
		{"no column key", &Section{Columns: []Column{{Label: "x"}}}, "sdk: invalid section: column 0 has no key"},
		{"dup column", &Section{Columns: []Column{{Key: "a"}, {Key: "a"}}}, `sdk: invalid section: column "a" appears twice`},
		{"inf cell", &Section{Rows: []Row{{"a": math.Inf(1)}}}, `sdk: invalid section: row 0, key "a": value is +Inf`},
		{"bad cell type", &Section{Rows: []Row{{}, {"a": []int{1}}}}, `sdk: invalid section: row 1, key "a": value of type []int, want string, float64 or int64`},
		{"uint64 overflow", &Section{Rows: []Row{{"a": uint64(math.MaxUint64)}}}, `sdk: invalid section: row 0, key "a": value 18446744073709551615 overflows int64`},
		{"chart kind", &Section{Charts: []Chart{{Kind: "pie"}}}, `sdk: invalid section: chart 0 has kind "pie", want "bar" or "timeline"`},
		{"nan bar", &Section{Charts: []Chart{{Kind: ChartBar, Bars: []Bar{{Label: "b", Value: math.NaN()}}}}}, `sdk: invalid section: chart 0, bar "b" is NaN`},
		{"backwards span", &Section{Charts: []Chart{{Kind: ChartTimeline, Spans: []Span{{Start: 2, End: 1}}}}}, "sdk: invalid section: chart 0, span 0 is [2, 1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sec.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			case err != nil && !errors.Is(err, ErrInvalidSection):
				t.Errorf("Validate() = %v, not ErrInvalidSection", err)
			}
		})
	}
}

func TestSectionWire(t *testing.T) {
	in := &Section{
		Name: "x", Title: "X",
		Summary: []Metric{{Key: "k", Label: "K", Value: 2, Unit: "%"}},
		Columns: []Column{{Key: "a", Label: "A", Unit: "us"}},
		Rows:    []Row{{"a": 1.25, "b": "s", "c": 3, "d": int64(-4), "e": float32(0.5)}},
		Charts: []Chart{{Kind: ChartTimeline, Title: "T", Unit: "us",
			Spans: []Span{{Lane: "l", Label: "w1", Start: 0, End: 3.5}}}},
		Notes: []string{"n"},
	}
	p, err := sectionToProto(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back pluginv1.Section
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := sectionFromProto(&back)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Rows = []Row{{"a": 1.25, "b": "s", "c": int64(3), "d": int64(-4), "e": 0.5}}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestSectionFromProtoEmptyValue(t *testing.T) {
	p := &pluginv1.Section{Rows: []*pluginv1.Row{{Cells: map[string]*pluginv1.Value{"a": {}}}}}
	if _, err := sectionFromProto(p); err == nil || err.Error() != `sdk: invalid section: row 0, key "a" has no value` {
		t.Errorf("sectionFromProto(empty value) = %v", err)
	}
	if _, err := sectionFromProto(nil); !errors.Is(err, ErrInvalidSection) {
		t.Errorf("sectionFromProto(nil) = %v", err)
	}
}

func TestInfoValidate(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"top_ops", true}, {"a", true}, {"a1_b2", true},
		{"", false}, {"Top", false}, {"1a", false}, {"_a", false}, {"a-b", false}, {"a b", false},
		{string(make([]byte, 65)), false},
	}
	for _, tt := range tests {
		err := Info{Name: tt.name}.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("Info{Name: %q}.Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidInfo) {
			t.Errorf("Info{Name: %q}.Validate() = %v, not ErrInvalidInfo", tt.name, err)
		}
	}
}

func TestInfoFromProto(t *testing.T) {
	_, err := infoFromProto(&pluginv1.InfoResponse{Name: "a", ProtocolVersion: 7})
	if !errors.Is(err, ErrProtocol) {
		t.Errorf("infoFromProto(version 7) = %v, want ErrProtocol", err)
	}
	got, err := infoFromProto(infoToProto(Info{Name: "a", Version: "1", Order: 3}))
	if want := (Info{Name: "a", Title: "a", Version: "1", Order: 3}); err != nil || got != want {
		t.Errorf("infoFromProto = %+v, %v; want %+v", got, err, want)
	}
}

// FuzzSectionFromProto feeds arbitrary bytes as an AnalyzeResponse, as a
// broken or hostile plugin could: decoding must fail cleanly or give a
// section that validates and encodes again.
func FuzzSectionFromProto(f *testing.F) {
	p, _ := sectionToProto(&Section{
		Name: "x", Summary: []Metric{{Key: "k", Value: 1}}, Columns: []Column{{Key: "a"}},
		Rows:   []Row{{"a": "s", "b": 1.5, "c": int64(2)}},
		Charts: []Chart{{Kind: ChartBar, Bars: []Bar{{Label: "b", Value: 1}}}},
	})
	seed, _ := proto.Marshal(&pluginv1.AnalyzeResponse{Section: p})
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var resp pluginv1.AnalyzeResponse
		if proto.Unmarshal(b, &resp) != nil {
			return
		}
		sec, err := sectionFromProto(resp.GetSection())
		if err != nil {
			if !errors.Is(err, ErrInvalidSection) {
				t.Fatalf("error %v is not ErrInvalidSection", err)
			}
			return
		}
		if _, err := sectionToProto(sec); err != nil {
			t.Fatalf("decoded section does not encode: %v", err)
		}
	})
}
