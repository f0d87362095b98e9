package report

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/google/go-cmp/cmp"
)

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789", 10, "0123456789"},
		{"0123456789abcdef", 10, "012…abcdef"},
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/pallas_call", 40,
			"jit(jitted_run_…kvp_512-p_1-/pallas_call"},
		{"ééééééééééééé", 5, "é…ééé"},
	}
	for _, tt := range tests {
		got := cut(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if n := len([]rune(got)); n > tt.n {
			t.Errorf("cut(%q, %d) has %d characters", tt.in, tt.n, n)
		}
	}
}

func TestShortLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Unknown: void tensorflow::functor::FillPhiloxRandomKernelLaunch<tensorflow::random::UniformDistribution<tensorflow::random::PhiloxRandom, Eigen::half> >(unsigned long long const*, tensorflow::random::PhiloxRandom)",
			"Unknown: FillPhiloxRandomKernelLaunch<UniformDistribution<PhiloxRandom, half>>"},
		{"void Eigen::internal::EigenMetaKernel<Eigen::TensorEvaluator<Eigen::Tensor<float const, 1> const, Eigen::GpuDevice>, long>(Eigen::TensorEvaluator<Eigen::Tensor<float const, 1> const, Eigen::GpuDevice>, long)",
			"EigenMetaKernel<TensorEvaluator<Tensor<float, 1>, GpuDevice>, long>"},
		{"dot_general: jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general: jit(jitted_run_model)/LogitsProcessor/dot_general"},
		{"$threading.py:637 wait", "$threading.py:637 wait"},
		{"ExecutorState::Process", "Process"},
	}
	for _, tt := range tests {
		if got := shortLabel(tt.in); got != tt.want {
			t.Errorf("shortLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCutAll(t *testing.T) {
	a := "Kernel<" + strings.Repeat("Evaluator<", 8) + "float, 1>" + strings.Repeat(">", 8) + ", Device>, long>"
	b := strings.Replace(a, "float", "bool", 1)
	got := cutAll([]string{a, b, "short"}, 60)
	if got[0] == got[1] {
		t.Errorf("cutAll left two different labels the same: %q", got[0])
	}
	if !strings.Contains(got[0], "float") || !strings.Contains(got[1], "bool") {
		t.Errorf("cutAll = %q, want the differing part kept", got)
	}
	for _, g := range got {
		if n := len([]rune(g)); n > 60 {
			t.Errorf("cutAll gave %q, %d characters", g, n)
		}
	}
	if got[2] != "short" {
		t.Errorf("cutAll changed a short label: %q", got[2])
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		max  float64
		want []float64
	}{
		{453.05, []float64{0, 100, 200, 300, 400}},
		{5.045, []float64{0, 1, 2, 3, 4, 5}},
		{80, []float64{0, 20, 40, 60, 80}},
		{0, []float64{0}},
		{math.NaN(), []float64{0}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ticks(tt.max, 6)); diff != "" {
			t.Errorf("ticks(%v) mismatch (-want +got):\n%s", tt.max, diff)
		}
	}
}

func TestClipAt(t *testing.T) {
	tests := []struct {
		values  []float64
		n       int
		axisMax float64
	}{
		{[]float64{5045, 5045, 147, 54, 45, 28, 18}, 2, 147 * 1.25},
		{[]float64{453, 200, 156, 102, 71}, 0, 453},
		{[]float64{1000, 10, 9}, 1, 12.5},
		{[]float64{1000, 10}, 0, 1000},
		{nil, 0, 0},
	}
	for _, tt := range tests {
		n, m := clipAt(tt.values)
		if n != tt.n || m != tt.axisMax {
			t.Errorf("clipAt(%v) = %d, %v, want %d, %v", tt.values, n, m, tt.n, tt.axisMax)
		}
	}
}

func TestHuman(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{453.05125, "us", "453.051 µs"},
		{7908.309, "us", "7.908 ms"},
		{5045165.5, "us", "5.045 s"},
		{12, "", "12.000"},
		{3, "GB", "3.000 GB"},
	}
	for _, tt := range tests {
		if got := human(tt.v, tt.unit); got != tt.want {
			t.Errorf("human(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

// wellFormed checks that b is one well-formed XML document.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
	}
}

func TestSVGEdgeCases(t *testing.T) {
	charts := []sdk.Chart{
		{Kind: "bar", Title: "empty"},
		{Kind: "timeline", Title: "empty timeline"},
		{Kind: "bar", Title: `<odd> & "quoted"`, Unit: "us", Bars: []sdk.Bar{
			{Label: "<script>alert(1)</script>", Value: 5},
			{Label: "nan", Value: math.NaN()},
			{Label: "negative", Value: -3},
			{Label: "inf", Value: math.Inf(1)},
		}},
		{Kind: "bar", Title: "no unit", Bars: []sdk.Bar{{Label: "a", Value: 0}, {Label: "b", Value: 0}}},
		{Kind: "timeline", Title: "spans", Unit: "us", Spans: []sdk.Span{
			{Lane: "windows", Label: "#1 a & b", Start: 0, End: 1},
			{Lane: "a/very/long/lane/name/that/goes/on/and/on", Start: 5, End: 2},
			{Lane: "windows", Label: "#2", Start: 1e6, End: 2e6},
		}},
	}
	for _, ch := range charts {
		t.Run(ch.Title, func(t *testing.T) {
			b, err := SVG(ch)
			if err != nil {
				t.Fatal(err)
			}
			wellFormed(t, b)
			if strings.Contains(string(b), "<script") || strings.Contains(string(b), "NaN") {
				t.Errorf("SVG holds unescaped input or NaN:\n%s", b)
			}
		})
	}
	if _, err := SVG(sdk.Chart{Kind: "pie"}); !errors.Is(err, ErrChartKind) {
		t.Errorf("SVG(pie) err = %v, want ErrChartKind", err)
	}
}

// TestGoldenSVGsWellFormed checks every golden chart parses as XML.
func TestGoldenSVGsWellFormed(t *testing.T) {
	for _, name := range inputs {
		files, err := Markdown(loadInput(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files[1:] {
			wellFormed(t, f.Data)
		}
	}
}
