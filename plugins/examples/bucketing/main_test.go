package main

import (
	"context"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/sdktest"
)

func TestBucket(t *testing.T) {
	tests := []struct{ operation, opType, category, want string }{
		{"jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32/pallas_call", "pallas_call", "", "attention"},
		{"jit(f)/QWen3Attention/FlashAttention/reshape", "reshape", "", "attention"},
		{"all-reduce.3", "Unknown", "", "collectives"},
		{"jit(f)/psum", "psum", "", "collectives"},
		{"jit(f)/all_gather", "all_gather", "", "collectives"},
		{"reduce-scatter.1", "Unknown", "", "collectives"},
		{"collective-permute-start.2", "Unknown", "", "collectives"},
		{"all-to-all.9", "Unknown", "", "collectives"},
		{"dynamic-update-slice.7", "Unknown", "", "kv_cache"},
		{"jit(f)/kv_cache/update", "scatter", "", "kv_cache"},
		{"jit(f)/Qwen3MLP/down_proj/dot_general", "dot_general", "", "matmul"},
		{"jit(f)/conv", "conv_general_dilated", "", "matmul"},
		{"jit(f)/QWen3Attention/q_norm/convert_element_type", "convert_element_type", "", "normalization"},
		{"jit(f)/Qwen3RMSNorm/mul", "mul", "", "normalization"},
		{"jit(f)/Sampler/cond/reduce_sum", "reduce_sum", "", "sampling"},
		{"jit(f)/LogitsProcessor/jit(log_softmax)/reduce_sum", "reduce_sum", "", "sampling"},
		{"jit(f)/argmax", "argmax", "", "sampling"},
		{"copy.3398", "Unknown", "", "memory"},
		{"jit(f)/transpose", "transpose", "", "memory"},
		{"jit(f)/dynamic_slice", "dynamic_slice", "", "memory"},
		{"while.6", "Unknown", "", "other"},
		{"jit(f)/RotaryEmbedding/sub", "sub", "", "other"},
		{"copy-done.2", "Unknown", "copy-done", "memory"},
		{"all-reduce", "reduce_sum", "all-reduce", "collectives"},
		{"Memcpy HtoD (Pageable -> Device)", "aten::copy_", "gpu_memcpy", "memory"},
		{"fusion.3", "Unknown", "loop fusion", "other"},
	}
	for _, tt := range tests {
		if got := bucket(tt.operation, tt.opType, tt.category); got != tt.want {
			t.Errorf("bucket(%q, %q, %q) = %q, want %q", tt.operation, tt.opType, tt.category, got, tt.want)
		}
	}
}

// The test's own reading of the rules, written as regular expressions and
// applied to the capture directly, without the SDK's helpers.
var testRules = []struct {
	bucket string
	re     *regexp.Regexp
}{
	{"attention", regexp.MustCompile(`flash_?attention|paged_attention|rpa-|splash`)},
	{"collectives", regexp.MustCompile(`all[-_](reduce|gather|to[-_]all)|reduce[-_]scatter|collective[-_]permute|psum`)},
	{"kv_cache", regexp.MustCompile(`dynamic[-_]update[-_]slice|paged|cache`)},
	{"matmul", regexp.MustCompile(`dot_general|dot |matmul|einsum|gemm|convolution|conv_general`)},
	{"normalization", regexp.MustCompile(`rms_?norm|layer_?norm|_norm/`)},
	{"sampling", regexp.MustCompile(`sampler|top_?k|argmax|softmax`)},
	{"memory", regexp.MustCompile(`copy|transpose|reshape|concatenate|pad|slice|data formatting|memcpy|memset`)},
}

// expected walks the capture's device op lines and sums op time (ps) and
// counts by bucket.
func expected(c *capture.Capture) (total, count map[string]int64, all int64) {
	total, count = map[string]int64{}, map[string]int64{}
	tfOp := regexp.MustCompile(`^(.*):([^:]*)$`)
	for _, p := range c.Planes {
		if !strings.HasPrefix(p.Name, "/device:") {
			continue
		}
		for _, l := range p.Lines {
			if l.Name != "XLA Ops" && !strings.HasPrefix(l.Name, "Stream #") {
				continue
			}
			for _, e := range l.Events {
				op, typ, category := e.Name, "Unknown", ""
				for _, s := range e.Stats {
					if m := tfOp.FindStringSubmatch(s.Str); s.Name == "tf_op" && m != nil {
						op, typ = m[1], m[2]
					}
					if s.Name == "hlo_category" {
						category = s.Str
					}
				}
				b := "other"
				for _, r := range testRules {
					if r.re.MatchString(strings.ToLower(op + " " + typ + " " + category + " ")) {
						b = r.bucket
						break
					}
				}
				total[b] += e.Dur
				count[b]++
				all += e.Dur
			}
		}
	}
	return total, count, all
}

func TestAnalyzeTiny(t *testing.T) {
	path := fixtures.Path(t, "tiny", "tiny-host.xplane.pb")
	sec := sdktest.Run(t, analyzer{}, path, nil)

	c, err := load.File(context.Background(), path, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	total, count, all := expected(c)
	// truth.json: 108 device ops, 2834.7275 µs of device op time.
	if n := count["attention"] + count["matmul"] + count["other"] + count["sampling"] + count["normalization"] + count["memory"]; n != 108 || all != 2_834_727_500 {
		t.Fatalf("independent sums: %d ops, %d ps; want 108 ops, 2834727500 ps", n, all)
	}
	// The same totals, by hand from truth.json's top_ops, to the printed digits.
	hand := map[string]float64{"attention": 1094.55, "matmul": 793.7725, "other": 576.815, "sampling": 299.035, "normalization": 45.5325, "memory": 25.0225}
	if len(sec.Rows) != len(total) || len(total) != len(hand) {
		t.Fatalf("section has %d rows %v, want %d buckets %v", len(sec.Rows), sec.Rows, len(total), total)
	}
	prev := 1e300
	for _, r := range sec.Rows {
		b := r["bucket"].(string)
		wantUS := float64(total[b]) / 1e6
		if r["total_us"] != wantUS || r["ops"] != count[b] || r["pct"] != 100*float64(total[b])/float64(all) {
			t.Errorf("row %v, want total_us %v, ops %d", r, wantUS, count[b])
		}
		if got := r["total_us"].(float64); got > prev || math.Round(hand[b]*1e6) != float64(total[b]) {
			t.Errorf("row %s: total_us %v out of order or not the hand total %v", b, got, hand[b])
		} else {
			prev = got
		}
	}
	if sec.Name != "inference_buckets" || len(sec.Charts) != 1 || sec.Charts[0].Kind != sdk.ChartBar || len(sec.Charts[0].Bars) != len(sec.Rows) {
		t.Errorf("section %q with charts %+v", sec.Name, sec.Charts)
	}
}

func TestAnalyzeNoOps(t *testing.T) {
	sec := sdktest.RunCapture(t, analyzer{}, &capture.Capture{}, nil)
	if len(sec.Rows) != 0 {
		t.Errorf("rows = %v, want none", sec.Rows)
	}
}
