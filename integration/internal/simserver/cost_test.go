package simserver

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// classTotals sums the seed table's op time by cost class.
func classTotals(t *testing.T) map[costClass]int64 {
	t.Helper()
	tab, err := parseOpTable(seedOpStats)
	if err != nil {
		t.Fatal(err)
	}
	out := map[costClass]int64{}
	for _, o := range tab.ops {
		out[o.class] += o.total
	}
	return out
}

// TestClassify: the seed's 1,515.10125 µs split by class; attention is the
// seed report's attention.flash component (553.2 µs).
func TestClassify(t *testing.T) {
	got := classTotals(t)
	want := map[costClass]int64{
		costAttention: 553_171_250, costSequences: 384_118_750, costTokens: 263_666_250, costFixed: 314_145_000,
	}
	for c, w := range want {
		if got[c] != w {
			t.Errorf("class %v totals %d ps, want %d", c, got[c], w)
		}
	}
}

func TestFactor(t *testing.T) {
	tests := []struct {
		class costClass
		kind  stepKind
		sh    shape
		want  float64
	}{
		{costAttention, prefill, seqShape(5, 5), 1}, // the seed request
		{costTokens, prefill, seqShape(5, 5), 1},
		{costSequences, prefill, seqShape(5, 5), 1},
		{costFixed, prefill, seqShape(5, 5), 1},
		{costAttention, prefill, seqShape(128), 1}, // the knee
		{costAttention, prefill, seqShape(512), 16},
		{costAttention, prefill, seqShape(2048), 256},
		{costAttention, prefill, seqShape(512, 512, 512, 512), 64},
		{costTokens, prefill, seqShape(512), 4},
		{costTokens, prefill, seqShape(2048, 2048), 32},
		{costSequences, prefill, seqShape(1), 1},
		{costSequences, prefill, seqShape(make([]int, 16)...), 8},
		{costFixed, prefill, seqShape(2048, 2048), 1},
		{costAttention, decode, seqShape(2048), 16},
		{costAttention, decode, seqShape(64), 1},
		{costTokens, decode, seqShape(make([]int, 256)...), 2},
		{costTokens, decode, seqShape(2048), 1},
	}
	for _, tt := range tests {
		if got := factor(tt.class, tt.kind, tt.sh); got != tt.want {
			t.Errorf("factor(%v, %v, %v) = %v, want %v", tt.class, tt.kind, tt.sh.lens, got, tt.want)
		}
	}
}

func TestModelDur(t *testing.T) {
	tests := []struct {
		d    int64
		c    costClass
		k    stepKind
		sh   shape
		want int64
	}{
		{453_051_000, costAttention, prefill, seqShape(5, 5), 453_051_000},
		{453_051_000, costAttention, prefill, seqShape(512), 16 * 453_051_000},
		{453_051_000, costAttention, decode, seqShape(5), 453_051_000 / 4},
		{453_051_001, costAttention, decode, seqShape(1024), 8 * (453_051_001 / 4)},
		{2_000, costFixed, decode, seqShape(1), capture.Nanosecond}, // at least 1 ns
		{3, costTokens, prefill, seqShape(192), 5},                  // 3 × 1.5 rounds to 5
	}
	for _, tt := range tests {
		if got := modelDur(tt.d, tt.c, tt.k, tt.sh); got != tt.want {
			t.Errorf("modelDur(%d, %v, %v, %v) = %d, want %d", tt.d, tt.c, tt.k, tt.sh.lens, got, tt.want)
		}
	}
}

// TestBurstFollowsTheModel: a step's op time by class is the class's seed
// time times its factor (to a picosecond per op event), and the attention
// time of prefill steps over 128, 512 and 2048 tokens fits L² exactly.
func TestBurstFollowsTheModel(t *testing.T) {
	tab, err := parseOpTable(seedOpStats)
	if err != nil {
		t.Fatal(err)
	}
	totals := classTotals(t)
	var xs, ys []float64
	for _, l := range []int{128, 512, 2048} {
		sh := seqShape(l, l)
		placed, _ := tab.burst(7, 1, prefill, sh)
		got := map[costClass]int64{}
		for _, p := range placed {
			got[tab.ops[p.op].class] += p.dur
		}
		for c, seed := range totals {
			want := float64(seed) * factor(c, prefill, sh)
			if d := math.Abs(float64(got[c]) - want); d > float64(tab.events) {
				t.Errorf("L=%d: class %v takes %d ps, want %.0f", l, c, got[c], want)
			}
		}
		xs = append(xs, math.Log(float64(l)))
		ys = append(ys, math.Log(float64(got[costAttention])))
	}
	slope := (ys[2] - ys[0]) / (xs[2] - xs[0])
	if math.Abs(slope-AttentionExponent) > 1e-6 {
		t.Errorf("attention grows as L^%.6f, want L^%v", slope, AttentionExponent)
	}
}

// TestScoreScales: a /v1/score request with a 510-word query and one item
// of two words runs one prefill step of one 512-token sequence: its burst
// is the model's, 16 times the seed's attention and 4 times its other
// model ops.
func TestScoreScales(t *testing.T) {
	s, url := startServer(t, Config{StepGap: 1})
	dir := t.TempDir()
	mustCall(t, "POST", url+"/start_profile", fmt.Appendf(nil, `{"output_dir":%q}`, dir), 200)
	body, err := json.Marshal(map[string]any{
		"model": "Qwen/Qwen3-0.6B", "query": strings.TrimSpace(strings.Repeat("word ", 510)),
		"items": []string{"two words"}, "label_token_ids": []int{1, 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, "POST", url+"/v1/score", body, 200)
	mustCall(t, "POST", url+"/stop_profile", nil, 200)
	p := s.LastProfile()
	if p == nil || len(p.Steps) != 1 {
		t.Fatalf("profile = %+v, want one step", p)
	}
	tot := classTotals(t)
	want := 16*tot[costAttention] + 4*tot[costTokens] + tot[costSequences] + tot[costFixed]
	if got := p.Devices[0].OpTotal; math.Abs(float64(got-want)) > 620 {
		t.Errorf("op time %d ps, want %d (to a picosecond per op)", got, want)
	}
}
