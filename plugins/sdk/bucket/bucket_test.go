package bucket

import (
	"errors"
	"os"
	"path/filepath"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// op builds an ops.Op for the rules to look at.
func op(operation, typ, category, kernel string) ops.Op {
	return ops.Op{Operation: operation, Type: typ, Category: category, Event: &capture.Event{Name: kernel}}
}

func TestSeed(t *testing.T) {
	rs := Seed()
	tests := []struct {
		op, typ, want string
	}{
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/pallas_call", "pallas_call", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/transpose", "transpose", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/FlashAttention/reshape", "reshape", "attention.flash"},
		{"jit(f)/x/rpa-bq_32/pallas_call", "pallas_call", "attention.flash"},
		{"jit(jitted_run_model)/QWen3Attention/q_proj/dot_general", "dot_general", "attention.matmul"},
		{"jit(jitted_run_model)/QWen3Attention/q_norm/reduce_sum", "reduce_sum", "attention.misc"},
		{"jit(jitted_run_model)/QWen3Attention/q_proj/dot_general_x", "dot_general_x", "attention.misc"},
		{"jit(jitted_run_model)/Qwen3MLP/down_proj/dot_general", "dot_general", "mlp.matmul"},
		{"jit(jitted_run_model)/Qwen3MLP/mul", "mul", "mlp.misc"},
		{"jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general", "sampler/logits"},
		{"jit(jitted_sampler)/Sampler/cond/branch_0_fun/while/body/closed_call/reduce_sum", "reduce_sum", "sampler/logits"},
		{"conditional.3", "Unknown", "control_flow"},
		{"copy.3398", "Unknown", "control_flow"},
		{"jit(f)/while/body/add", "add", "control_flow"},
		{"jit(f)/cond/conditional_thing", "select", "control_flow"},
		{"jit(jitted_run_model)/Embed/gather", "gather", "other"},
		{"", "", "other"},
	}
	for _, tt := range tests {
		if got := rs.Component(op(tt.op, tt.typ, "loop fusion", "fusion.1")); got != tt.want {
			t.Errorf("Seed().Component(%q, %q) = %q, want %q", tt.op, tt.typ, got, tt.want)
		}
	}
	want := []string{"attention.flash", "attention.matmul", "attention.misc", "mlp.matmul", "mlp.misc", "sampler/logits", "control_flow", "other"}
	if diff := cmp.Diff(want, rs.Components()); diff != "" {
		t.Errorf("Seed().Components() mismatch (-want +got):\n%s", diff)
	}
	if rs.Name != SeedSet {
		t.Errorf("Seed().Name = %q, want %q", rs.Name, SeedSet)
	}
}

// TestDefault probes the default rules with ops as real captures name them
// (every capture kind of ../shared/testdata), and with the traps: copies
// and loop bodies are not control flow, elementwise ops are not "other".
func TestDefault(t *testing.T) {
	rs := Default()
	tests := []struct {
		name                      string
		op, typ, category, kernel string
		want                      string
	}{
		// JAX on TPU.
		{"RPA pallas kernel", "jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/pallas_call", "pallas_call", "custom-call", "pallas_call.288", "attention"},
		{"reshape inside RPA", "jit(f)/jit(_jax_attn_func)/shard_map/jit(ragged_paged_attention)/reshape", "reshape", "data formatting", "%reshape.1 = bf16[4] reshape(%p)", "attention"},
		{"RPA typed by its jit", "jit(f)/jit(ragged_paged_attention)", "jit(ragged_paged_attention)", "custom-call", "custom-call.3", "attention"},
		{"projection", "jit(f)/QWen3Attention/q_proj/dot_general", "dot_general", "convolution", "dot.312", "matmul"},
		{"convolution fusion", "jit(step_fun)/MergedColumnParallelLinear/mn,pn->mp/dot_general", "dot_general", "convolution fusion", "convolution_bitcast_fusion.63", "matmul"},
		{"untyped convolution fusion", "fusion.9", "Unknown", "convolution fusion", "%fusion.9 = bf16[8] fusion(%transpose.1)", "matmul"},
		{"all-reduce", "jit(_psum)/jit(main)/reduce_sum", "reduce_sum", "all-reduce", "%all-reduce = f32[5] all-reduce(f32[5] %p)", "collectives"},
		{"all-gather start", "all-gather-start.2", "Unknown", "async-start", "all-gather-start.2", "collectives"},
		{"copy-done", "copy-done.2", "Unknown", "copy-done", "%copy-done.2 = f32[5] copy-done((f32[5], u32[]) %copy-start.2)", "data_movement"},
		{"copy-start", "copy-start", "Unknown", "copy-start", "%copy-start = (f32[5], u32[]) copy-start(f32[5] %p)", "data_movement"},
		{"data formatting copy", "copy.3398", "Unknown", "data formatting", "copy.3398", "data_movement"},
		{"async slice", "slice-start.170", "Unknown", "async-start", "slice-start.170", "data_movement"},
		{"gather", "jit(f)/Embed/gather", "gather", "non-fusion elementwise", "fusion.101", "data_movement"},
		{"while", "while.6", "Unknown", "control flow", "while.6", "control_flow"},
		{"conditional", "conditional.3", "Unknown", "control flow", "conditional.3", "control_flow"},
		{"untyped while by name", "while.2", "Unknown", "unknown", "while.2", "control_flow"},
		{"JAX while primitive", "jit(f)/while", "while", "unknown", "k", "control_flow"},
		{"op in a loop body", "jit(jitted_sampler)/Sampler/cond/branch_0_fun/while/body/closed_call/reduce_sum", "reduce_sum", "non-fusion elementwise", "fusion.25", "reduction"},
		{"cond predicate", "jit(jitted_sampler)/Sampler/cond", "cond", "non-fusion elementwise", "fusion.151", "elementwise"},
		{"non-fusion elementwise", "jit(f)/QWen3Attention/RotaryEmbedding/sub", "sub", "non-fusion elementwise", "fusion.305", "elementwise"},
		{"loop fusion", "jit(f)/jit(main)/add", "add", "loop fusion", "%broadcast_add_fusion.1 = f32[5] fusion(f32[5] %transpose.3)", "elementwise"},
		{"untyped loop fusion", "pad_maximum_fusion", "Unknown", "loop fusion", "pad_maximum_fusion", "elementwise"},
		{"q_norm", "jit(f)/QWen3Attention/q_norm/reduce_sum", "reduce_sum", "non-fusion elementwise", "fusion.452", "normalization"},
		{"RMSNorm scope", "jit(f)/Qwen3RMSNorm/rsqrt", "rsqrt", "loop fusion", "fusion.1", "normalization"},
		{"normal is not a norm", "jit(_normal)/erf_inv", "erf_inv", "loop fusion", "fusion.2", "elementwise"},
		{"sampler max", "jit(f)/Sampler/jit(clip)/max", "max", "non-fusion elementwise", "fusion.76", "elementwise"},
		{"broadcast", "jit(broadcast_in_dim)/jit(main)/broadcast_in_dim", "broadcast_in_dim", "broadcast", "%broadcast.2 = f32[5] broadcast(f32[] %c)", "data_movement"},
		// JAX on GPU (ROCm): XlaModule kernels, typed Unknown.
		{"hipBLASLt GEMM", "custom-call.1", "Unknown", "unknown", "Cijk_Ailk_Bljk_BBS_BH_MT256x224x64_MI16x16x16x1_SN", "matmul"},
		{"gemm fusion", "gemm_fusion_dot_general.1", "Unknown", "unknown", "gemm_fusion_dot_general_1.kd", "matmul"},
		{"broadcast kernel", "wrapped_broadcast", "Unknown", "unknown", "wrapped_broadcast.kd", "data_movement"},
		{"ROCm copy", "copy.1", "Unknown", "unknown", "__amd_rocclr_copyBuffer.kd", "data_movement"},
		{"loop fusion kernel", "loop_multiply_fusion.3", "Unknown", "unknown", "loop_multiply_fusion", "elementwise"},
		{"reduce fusion kernel", "input_reduce_fusion", "Unknown", "unknown", "input_reduce_fusion", "reduction"},
		{"NCCL", "all-reduce-start", "Unknown", "unknown", "ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "collectives"},
		// TensorFlow on GPU: kernels with no tf_op.
		{"Eigen elementwise", "void Eigen::internal::EigenMetaKernel<Eigen::TensorEvaluator<Eigen::TensorAssignOp<...TensorConversionOp...>>>", "Unknown", "unknown", "void Eigen::internal::EigenMetaKernel<Eigen::TensorEvaluator<Eigen::TensorAssignOp<...TensorConversionOp...>>>", "elementwise"},
		{"Philox", "void tensorflow::functor::FillPhiloxRandomKernelLaunch<>", "Unknown", "unknown", "void tensorflow::functor::FillPhiloxRandomKernelLaunch<>", "random"},
		{"TF memcpy", "MemcpyH2D", "Unknown", "unknown", "MemcpyH2D", "data_movement"},
		{"TF MatMul", "model/dense/MatMul", "MatMul", "unknown", "volta_h884gemm_64x64", "matmul"},
		{"TF Max is a reduction", "model/Max", "Max", "unknown", "k", "reduction"},
		{"TF Switch", "model/cond/Switch", "Switch", "unknown", "k", "control_flow"},
		{"cuDNN conv kernel", "maxwell_scudnn_128x64_relu_small_nn", "Unknown", "unknown", "maxwell_scudnn_128x64_relu_small_nn", "convolution"},
		// PyTorch.
		{"cuDNN conv", "sm80_xmma_fprop_implicit_gemm_indexed_tf32f32", "aten::cudnn_convolution", "kernel", "sm80_xmma_fprop_implicit_gemm_indexed_tf32f32", "convolution"},
		{"conv backward", "void cudnn::detail::dgrad_engine<float>", "aten::cudnn_convolution_backward_input", "kernel", "void cudnn::detail::dgrad_engine<float>", "convolution"},
		{"addmm", "ampere_sgemm_32x32_sliced1x4_tn", "aten::addmm", "kernel", "ampere_sgemm_32x32_sliced1x4_tn", "matmul"},
		{"batch norm", "void cudnn::bn_bw_1C11_kernel_new<float>", "aten::cudnn_batch_norm_backward", "kernel", "void cudnn::bn_bw_1C11_kernel_new<float>", "normalization"},
		{"layer norm kernel", "void at::native::vectorized_layer_norm_kernel<c10::BFloat16>", "Unknown", "kernel", "void at::native::vectorized_layer_norm_kernel<c10::BFloat16>", "normalization"},
		{"rms norm kernel", "void vllm::rms_norm_kernel<c10::BFloat16>", "aten::_C::rms_norm", "kernel", "void vllm::rms_norm_kernel<c10::BFloat16>", "normalization"},
		{"relu backward", "void at::native::vectorized_elementwise_kernel<4, threshold_kernel_impl>", "aten::threshold_backward", "kernel", "void at::native::vectorized_elementwise_kernel<4, threshold_kernel_impl>", "elementwise"},
		{"untyped elementwise", "void at::native::vectorized_elementwise_kernel<4, AddFunctor>", "Unknown", "kernel", "void at::native::vectorized_elementwise_kernel<4, AddFunctor>", "elementwise"},
		{"memcpy", "Memcpy HtoD (Pageable -> Device)", "aten::copy_", "gpu_memcpy", "Memcpy HtoD (Pageable -> Device)", "data_movement"},
		{"memset by a matmul", "Memset (Device)", "aten::addmm", "gpu_memset", "Memset (Device)", "data_movement"},
		{"max pool", "void at::native::max_pool_forward_nchw<float>", "aten::max_pool2d_with_indices", "kernel", "void at::native::max_pool_forward_nchw<float>", "pooling"},
		{"dropout", "void at::native::fused_dropout_kernel_vec<float>", "aten::native_dropout", "kernel", "void at::native::fused_dropout_kernel_vec<float>", "random"},
		{"nll loss", "void cunn_ClassNLLCriterion_updateOutput_kernel<float>", "aten::nll_loss_forward", "kernel", "void cunn_ClassNLLCriterion_updateOutput_kernel<float>", "reduction"},
		{"flash attention", "void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits>", "aten::_flash_attention_forward", "kernel", "void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits>", "attention"},
		{"untyped flash attention", "void flash_fwd_kernel<>", "Unknown", "kernel", "void flash_fwd_kernel<>", "attention"},
		{"paged attention", "void vllm::paged_attention_v2_kernel<>", "Unknown", "kernel", "void vllm::paged_attention_v2_kernel<>", "attention"},
		{"nvjet GEMM", "nvjet_tst_128x256_64x4_1x2_h_bz_coopA_NNT", "aten::mm", "kernel", "nvjet_tst_128x256_64x4_1x2_h_bz_coopA_NNT", "matmul"},
		{"untyped GEMM", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", "Unknown", "kernel", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", "matmul"},
		{"NCCL kernel", "ncclKernel_AllReduce_RING_LL_Sum_float", "nccl:all_reduce", "kernel", "ncclKernel_AllReduce_RING_LL_Sum_float", "collectives"},
		{"vLLM custom all-reduce", "void vllm::cross_device_reduce_1stage<>", "Unknown", "kernel", "void vllm::cross_device_reduce_1stage<>", "collectives"},
		{"triton pointwise", "triton_poi_fused_add_mul_0", "Unknown", "kernel", "triton_poi_fused_add_mul_0", "elementwise"},
		{"triton reduction", "triton_red_fused_sum_1", "Unknown", "kernel", "triton_red_fused_sum_1", "reduction"},
		{"silu and mul", "void vllm::act_and_mul_kernel<>", "Unknown", "kernel", "void vllm::act_and_mul_kernel<>", "elementwise"},
		{"FlashInfer decode", "BatchDecodeWithPagedKVCacheKernel<>", "Unknown", "kernel", "void flashinfer::BatchDecodeWithPagedKVCacheKernel<>", "attention"},
		{"triton attention", "_fwd_grouped_kernel_stage1", "Unknown", "kernel", "_fwd_grouped_kernel_stage1", "attention"},
		{"group norm moments", "RowwiseMomentsCUDAKernel", "Unknown", "kernel", "void at::native::RowwiseMomentsCUDAKernel<float>", "normalization"},
		{"XLA wrapped elementwise", "wrapped_add", "Unknown", "unknown", "wrapped_add", "elementwise"},
		{"XLA wrapped slice", "wrapped_slice", "Unknown", "unknown", "wrapped_slice", "data_movement"},
		{"GPU GEMM custom call with a category", "custom-call.2", "Unknown", "custom-call", "sm90_xmma_gemm_bf16bf16_bf16f32", "matmul"},
		{"TPU fusion whose HLO text names a transpose", "fusion.3", "Unknown", "loop fusion", "%fusion.3 = f32[8] fusion(f32[8] %transpose.1), kind=kLoop", "elementwise"},
		{"unknown kernel", "my_kernel", "Unknown", "kernel", "my_kernel", "other"},
		{"nothing", "", "", "", "", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rs.Component(op(tt.op, tt.typ, tt.category, tt.kernel)); got != tt.want {
				t.Errorf("Default().Component(%q, %q, %q, %q) = %q, want %q", tt.op, tt.typ, tt.category, tt.kernel, got, tt.want)
			}
		})
	}
	if rs.Name != DefaultSet {
		t.Errorf("Default().Name = %q, want %q", rs.Name, DefaultSet)
	}
}

// TestBuiltinDocuments checks that the built-in documents parse and that
// the copies in testdata are the same text.
func TestBuiltinDocuments(t *testing.T) {
	for _, tc := range []struct{ name, doc, file string }{
		{DefaultSet, DefaultDocument, "default.good.yaml"},
		{SeedSet, SeedDocument, "seed.good.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parsed, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse(%s document): %v", tc.name, err)
			}
			rs, err := Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			parsed.Name = tc.name
			if diff := cmp.Diff(rs, parsed, cmpRules); diff != "" {
				t.Errorf("Parse(%s document) differs from Lookup (-want +got):\n%s", tc.name, diff)
			}
			if doc, err := Document(tc.name); err != nil || doc != tc.doc {
				t.Errorf("Document(%s) = %.40q, %v", tc.name, doc, err)
			}
			file, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(file) != tc.doc {
				t.Errorf("testdata/%s differs from the %s document", tc.file, tc.name)
			}
		})
	}
	if diff := cmp.Diff([]string{"default", "seed"}, Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
	if !IsBuiltin("seed") || IsBuiltin("seed.yaml") {
		t.Errorf("IsBuiltin wrong")
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownSet) || !strings.Contains(err.Error(), "default, seed") {
		t.Errorf("Lookup(nope) err = %v, want ErrUnknownSet listing the sets", err)
	}
	if _, err := Document("nope"); !errors.Is(err, ErrUnknownSet) {
		t.Errorf("Document(nope) err = %v, want ErrUnknownSet", err)
	}
	// Lookup hands out copies: changing one leaves the set alone.
	a, _ := Lookup(SeedSet)
	a.Rules[0].Component = "changed"
	if b := Seed(); b.Rules[0].Component != "attention.flash" {
		t.Errorf("Lookup shares its rules: %q", b.Rules[0].Component)
	}
}

var cmpRules = cmp.Comparer(func(a, b Rule) bool {
	return a.Component == b.Component && a.Name == b.Name && a.Type == b.Type && a.Category == b.Category && a.Kernel == b.Kernel
})

func TestParseGood(t *testing.T) {
	tests := []struct {
		file string
		want *Rules
		// probes: operation, type, category, kernel -> component
		probes [][5]string
	}{
		{"default.good.yaml", nil, [][5]string{{"jit(f)/Qwen3MLP/up/dot_general", "dot_general", "convolution fusion", "fusion.3", "matmul"}}},
		{"seed.good.yaml", nil, [][5]string{{"Qwen3MLP/up/dot_general", "dot_general", "", "", "mlp.matmul"}}},
		{"minimal.good.json", &Rules{Default: "rest", Rules: []Rule{
			{Component: "flash", Name: "pallas_call"},
			{Component: "control_flow", Type: "^Unknown$"},
		}}, [][5]string{{"a/PALLAS_CALL", "x", "", "", "flash"}, {"while.1", "Unknown", "", "", "control_flow"}, {"add", "add", "", "", "rest"}}},
		{"category.good.yaml", &Rules{Default: "other", Rules: []Rule{
			{Component: "copies", Category: "^copy-(start|done)$"},
			{Component: "gemm", Category: "^(unknown|kernel)$", Kernel: "gemm|Cijk_"},
			{Component: "fusions", Name: "fusion", Type: "^Unknown$", Category: "fusion"},
		}}, [][5]string{
			{"copy-done.2", "Unknown", "copy-done", "%copy-done.2 = f32[] copy-done()", "copies"},
			{"custom-call.1", "Unknown", "unknown", "Cijk_Ailk_Bljk", "gemm"},
			{"custom-call.1", "Unknown", "custom-call", "Cijk_Ailk_Bljk", "other"},
			{"pad_maximum_fusion", "Unknown", "loop fusion", "pad_maximum_fusion", "fusions"},
			{"pad_maximum_fusion", "pad", "loop fusion", "pad_maximum_fusion", "other"},
		}},
		{"inference.good.yaml", nil, [][5]string{
			{"jit(f)/QWen3Attention/FlashAttention/x/pallas_call", "pallas_call", "", "", "attention"},
			{"all-reduce.1", "Unknown", "", "", "collectives"},
			{"jit(f)/layer/RMSNorm/rsqrt", "rsqrt", "", "", "normalization"},
			{"jit(f)/Qwen3MLP/up_proj/dot_general", "dot_general", "", "", "matmul"},
			{"copy-start.168", "Unknown", "", "", "memory"},
			{"jit(f)/x/transpose", "transpose", "", "", "memory"},
			{"jit(f)/Sampler/reduce_max", "reduce_max", "", "", "sampling"},
			{"jit(f)/x/add", "add", "", "", "other"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.file, err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got, cmpRules); diff != "" {
					t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
				}
			}
			for _, p := range tt.probes {
				if c := got.Component(op(p[0], p[1], p[2], p[3])); c != p[4] {
					t.Errorf("Component(%q) = %q, want %q", p[:4], c, p[4])
				}
			}
		})
	}
	// Every good file in testdata is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.good.*"))
	if len(files) != len(tests) {
		t.Errorf("%d good files in testdata, %d in the table", len(files), len(tests))
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		file  string
		field string
		line  int
		want  string // the whole error text
	}{
		{"bad-regex.bad.yaml", "rules[1].name", 5, "bucket: invalid rules: rules[1].name (line 5): bad regexp \"matmul((\": error parsing regexp: missing closing ): `(?i:matmul(()`"},
		{"bad-type-regex.bad.yaml", "rules[0].type", 3, "bucket: invalid rules: rules[0].type (line 3): bad regexp \"[dot\": error parsing regexp: missing closing ]: `[dot)`"},
		{"missing-component.bad.yaml", "rules[1].component", 4, "bucket: invalid rules: rules[1].component (line 4): missing: every rule names the component it sends ops to"},
		{"unknown-key.bad.yaml", "rules[0].nmae", 3, "bucket: invalid rules: rules[0].nmae (line 3): unknown key (known: component, name, type, category, kernel)"},
		{"unknown-top-key.bad.yaml", "defaults", 1, "bucket: invalid rules: defaults (line 1): unknown key (known: version, default, rules)"},
		{"no-match.bad.yaml", "rules[0].name", 2, "bucket: invalid rules: rules[0].name (line 2): a rule needs a name, type, category or kernel expression (or several); ops no rule matches go to the default component"},
		{"no-rules.bad.yaml", "rules", 1, "bucket: invalid rules: rules (line 1): missing: give an ordered list of rules"},
		{"empty-rules.bad.yaml", "rules", 1, "bucket: invalid rules: rules (line 1): empty: give at least one rule"},
		{"bad-version.bad.yaml", "version", 1, "bucket: invalid rules: version (line 1): got \"2\", this fleetprof reads version 1"},
		{"not-a-list.bad.yaml", "rules", 2, "bucket: invalid rules: rules (line 2): must be a list of rules"},
		{"rule-not-mapping.bad.yaml", "rules[0]", 2, "bucket: invalid rules: rules[0] (line 2): must be a mapping with keys component, name, type, category, kernel"},
		{"name-not-string.bad.yaml", "rules[0].name", 3, "bucket: invalid rules: rules[0].name (line 3): must be a string"},
		{"repeated-key.bad.yaml", "rules[0].name", 4, "bucket: invalid rules: rules[0].name (line 4): repeated key"},
		{"syntax.bad.yaml", "", 0, "bucket: invalid rules: document: not YAML or JSON: fix the syntax: yaml: line 1: did not find expected '-' indicator"},
		{"empty.bad.yaml", "", 0, "bucket: invalid rules: document: empty document: give at least a rules list"},
		{"empty-default.bad.yaml", "default", 1, "bucket: invalid rules: default (line 1): empty: name the component of ops no rule matches, or leave the key out for \"other\""},
		{"bad-category-regex.bad.yaml", "rules[0].category", 3, "bucket: invalid rules: rules[0].category (line 3): bad regexp \"copy-(start\": error parsing regexp: missing closing ): `(?i:copy-(start)`"},
		{"kernel-not-string.bad.yaml", "rules[0].kernel", 3, "bucket: invalid rules: rules[0].kernel (line 3): must be a string"},
		{"top-list.bad.json", "", 1, "bucket: invalid rules: document (line 1): the document must be a mapping with keys version, default and rules"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := Parse(doc)
			if err == nil {
				t.Fatalf("Parse(%s) = %v, want an error", tt.file, rs)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%s) error %v does not wrap ErrInvalid", tt.file, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%s) error %T is not a *FieldError", tt.file, err)
			}
			if fe.Field != tt.field || fe.Line != tt.line {
				t.Errorf("Parse(%s) error at %q line %d, want %q line %d", tt.file, fe.Field, fe.Line, tt.field, tt.line)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%s) error =\n%s\nwant\n%s", tt.file, err, tt.want)
			}
		})
	}
	// Every bad file in testdata is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bad.*"))
	if len(files) != len(tests) {
		t.Errorf("%d bad files in testdata, %d in the table", len(files), len(tests))
	}
}

func TestRegexpErrorUnwraps(t *testing.T) {
	_, err := Parse([]byte("rules:\n  - component: x\n    name: \"a(\"\n"))
	var se *syntax.Error
	if !errors.As(err, &se) {
		t.Errorf("Parse error %v does not hold a *syntax.Error", err)
	}
}

func TestZeroRules(t *testing.T) {
	var rs Rules
	if got := rs.Component(op("anything", "dot_general", "", "")); got != DefaultComponent {
		t.Errorf("Rules{}.Component = %q, want %q", got, DefaultComponent)
	}
	var r Rule
	if r.Match(op("x", "y", "z", "k")) {
		t.Errorf("Rule{}.Match = true, want false")
	}
	// An uncompiled rule with expressions matches nothing either.
	r = Rule{Component: "c", Name: "x"}
	if r.Match(op("x", "y", "z", "k")) {
		t.Errorf("uncompiled Rule.Match = true, want false")
	}
}

func TestCompile(t *testing.T) {
	r, err := Rule{Component: "c", Type: "^Unknown$"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Match(op("while.3", "unknown", "", "")) || r.Match(op("while.3", "Unknownish", "", "")) {
		t.Errorf("Compile type match wrong")
	}
	r, err = Rule{Component: "c", Category: "copy", Kernel: "^%copy"}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Match(op("copy.1", "Unknown", "copy-done", "%copy-done.1 = f32[]")) || r.Match(op("copy.1", "Unknown", "loop fusion", "%copy.1 = f32[]")) {
		t.Errorf("Compile category and kernel match wrong")
	}
	if r.Match(ops.Op{Category: "copy"}) {
		t.Errorf("an op with no event matched a kernel expression")
	}
	if _, err := (Rule{Component: "c"}).Compile(); err == nil || !strings.Contains(err.Error(), "needs a name, type, category or kernel") {
		t.Errorf("Compile with no expressions: err = %v", err)
	}
	if _, err := (Rule{Name: "x"}).Compile(); err == nil || !strings.Contains(err.Error(), "component (") && !strings.Contains(err.Error(), "component:") {
		t.Errorf("Compile with no component: err = %v", err)
	}
	var fe *FieldError
	if _, err := (Rule{Component: "c", Category: "(("}).Compile(); !errors.As(err, &fe) || fe.Field != "category" {
		t.Errorf("Compile bad category: err = %v, want a FieldError on category", err)
	}
	if _, err := (Rule{Component: "c", Kernel: "[x"}).Compile(); !errors.As(err, &fe) || fe.Field != "kernel" {
		t.Errorf("Compile bad kernel: err = %v, want a FieldError on kernel", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*.*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Parse(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = rs.Component(op("jit(f)/attention/dot_general", "dot_general", "convolution fusion", "fusion.1"))
		if len(rs.Rules) == 0 {
			t.Errorf("Parse returned no rules without an error")
		}
	})
}

func TestResolve(t *testing.T) {
	rules, opt, err := Resolve("seed")
	if err != nil || opt != "seed" || rules.Component(ops.Op{Operation: "x/flashattention/y", Type: "pallas_call"}) != "attention.flash" {
		t.Errorf("Resolve(seed) = %v, %q, %v", rules, opt, err)
	}
	file := filepath.Join("testdata", "minimal.good.json")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, opt, err := Resolve(file); err != nil || opt != string(doc) {
		t.Errorf("Resolve(%s) = %q, %v; want the file's contents", file, opt, err)
	}
	for _, bad := range []string{"nope", filepath.Join("testdata", "syntax.bad.yaml")} {
		if _, _, err := Resolve(bad); err == nil {
			t.Errorf("Resolve(%s) = nil error", bad)
		}
	}
	if _, _, err := Resolve("nope"); err == nil || !strings.Contains(err.Error(), "default, seed") {
		t.Errorf("Resolve(nope) = %v, want the built-in sets named", err)
	}
}
