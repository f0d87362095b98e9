// Command bucketing is an example fleetprof analyzer plugin: it groups
// device op time into the buckets production inference teams use
// (attention, matmul, collectives, KV cache, normalization, sampling, memory
// movement, other). Copy it to write your own; see ../../README.md.
package main

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk"
)

// buckets are tried in order against an op's lower-cased framework
// operation, type and category ("jit(f)/qwen3mlp/down_proj/dot_general
// dot_general convolution fusion"); the first with a matching word wins, and
// an op no bucket matches is "other". The category (XLA's hlo_category, or
// kineto's gpu_memcpy) is what explains ops with no framework op, such as
// copy-done. Attention kernels come first, so their inner reshapes and
// paged-cache reads count as attention.
var buckets = []struct {
	name  string
	words []string
}{
	{"attention", []string{"flashattention", "flash_attention", "paged_attention", "rpa-", "splash"}},
	{"collectives", []string{"all-reduce", "all_reduce", "all-gather", "all_gather", "reduce-scatter",
		"reduce_scatter", "collective-permute", "collective_permute", "all-to-all", "all_to_all", "psum"}},
	{"kv_cache", []string{"dynamic-update-slice", "dynamic_update_slice", "paged", "cache"}},
	{"matmul", []string{"dot_general", "dot ", "matmul", "einsum", "gemm", "convolution", "conv_general"}},
	{"normalization", []string{"rms_norm", "rmsnorm", "layer_norm", "layernorm", "_norm/"}},
	{"sampling", []string{"sampler", "top_k", "topk", "argmax", "softmax"}},
	{"memory", []string{"copy", "transpose", "reshape", "concatenate", "pad", "slice", "data formatting", "memcpy", "memset"}},
}

// bucket names an op's bucket.
func bucket(operation, opType, category string) string {
	s := strings.ToLower(operation + " " + opType + " " + category + " ")
	for _, b := range buckets {
		for _, w := range b.words {
			if strings.Contains(s, w) {
				return b.name
			}
		}
	}
	return "other"
}

type analyzer struct{}

func (analyzer) Info() sdk.Info {
	return sdk.Info{Name: "inference_buckets", Title: "Device time by inference bucket", Version: "1.0.0",
		Description: "Device op time grouped as inference teams do: attention, matmul, collectives, KV cache, ...",
		Order:       45}
}

func (analyzer) Analyze(_ context.Context, in *sdk.Input) (*sdk.Section, error) {
	count, total := map[string]int64{}, map[string]int64{} // by bucket; times in ps
	var all int64
	for op := range in.DeviceOps() {
		b := bucket(op.Operation, op.Type, op.Category)
		count[b]++
		total[b] += op.Event.Dur
		all += op.Event.Dur
	}
	sec := &sdk.Section{
		Columns: []sdk.Column{{Key: "bucket", Label: "Bucket"}, {Key: "ops", Label: "Ops"},
			{Key: "total_us", Label: "Total", Unit: "us"}, {Key: "pct", Label: "% of device op time", Unit: "%"}},
		Rows:   []sdk.Row{},
		Charts: []sdk.Chart{{Kind: sdk.ChartBar, Title: "Device op time by bucket", Unit: "us"}},
	}
	for b, t := range total {
		pct := 0.0
		if all > 0 {
			pct = 100 * float64(t) / float64(all)
		}
		sec.Rows = append(sec.Rows, sdk.Row{"bucket": b, "ops": count[b], "total_us": float64(t) / 1e6, "pct": pct})
	}
	slices.SortFunc(sec.Rows, func(a, b sdk.Row) int {
		return cmp.Or(cmp.Compare(b["total_us"].(float64), a["total_us"].(float64)), strings.Compare(a["bucket"].(string), b["bucket"].(string)))
	})
	for _, r := range sec.Rows {
		sec.Charts[0].Bars = append(sec.Charts[0].Bars, sdk.Bar{Label: r["bucket"].(string), Value: r["total_us"].(float64)})
	}
	return sec, nil
}

func main() { sdk.Serve(analyzer{}) }
