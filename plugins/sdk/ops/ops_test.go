package ops

import (
	"math"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/google/go-cmp/cmp"
)

func tfOp(v string) []capture.Stat {
	return []capture.Stat{{Name: "run_id", Kind: capture.StatInt, Int: 7}, {Name: TFOpStat, Kind: capture.StatString, Str: v}}
}

func str(name, v string) capture.Stat {
	return capture.Stat{Name: name, Kind: capture.StatString, Str: v}
}

func TestParseTFOp(t *testing.T) {
	tests := []struct {
		tf, wantOp, wantType string
	}{
		// The testdata README's examples.
		{"model/dense/MatMul:MatMul", "model/dense/MatMul", "MatMul"},
		{"jit(jitted_run_model)/LogitsProcessor/dot_general:", "jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general"},
		{"jit(f)/jit(main)/add:", "jit(f)/jit(main)/add", "add"},
		{"jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention):", "jit(f)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)", "jit(ragged_paged_attention)"},
		{"MemcpyHToD", "MemcpyHToD", MemcpyHToDType},
		{"memcpydtoh_1", "memcpydtoh_1", MemcpyDToHType},
		{"MEMCPYDTOD/x", "MEMCPYDTOD/x", MemcpyDToDType},
		{"MemcpyHToH", "MemcpyHToH", MemcpyHToHType},
		{"MemcpyH2D", "MemcpyH2D", UnknownType},
		{"whatever", "whatever", UnknownType},
		{"Iterator::Batch::Map::TFRecord", "Iterator::Batch::Map::TFRecord", DatasetType},
		{"Iterator:", "Iterator:", DatasetType},
		// JAX with an explicit type, brackets dropped.
		{"jit(f)/Qwen3MLP/down_proj/dot_general:dot_general", "jit(f)/Qwen3MLP/down_proj/dot_general", "dot_general"},
		{"jit(f)/transpose:transpose[permutation=(0, 3, 1, 2)]", "jit(f)/transpose", "transpose"},
		{"jit(f)/transpose[permutation=(1,0)]:", "jit(f)/transpose[permutation=(1,0)]", "transpose"},
		{"jit(f)/RPA-bq_32-bkvp_512-p_1-/pallas_call:pallas_call", "jit(f)/RPA-bq_32-bkvp_512-p_1-/pallas_call", "pallas_call"},
		// A numeric _N suffix goes when the type is derived.
		{"model/layer/MatMul_1:", "model/layer/MatMul_1", "MatMul"},
		{"jit(f)/add_12:", "jit(f)/add_12", "add"},
		{"jit(f)/add_x:", "jit(f)/add_x", "add_x"},
		{"jit(f)/123:", "jit(f)/123", "123"},
		{"jit(f)/reduce_sum_-1:", "jit(f)/reduce_sum_-1", "reduce_sum"},
		// Split at the FIRST ':': a colon in a scope makes the type odd.
		{"jit(step_fun)/aten::mean.dim/reduce_sum:", "jit(step_fun)/aten::mean.dim/reduce_sum:", UnknownType},
		{"jit(f)/scope:a/b:reduce_sum", "jit(f)/scope:a/b:reduce_sum", UnknownType},
		{"jit(f)/x:Bad-Type", "jit(f)/x:Bad-Type", UnknownType},
		// A TF name needs a TF type; a non-TF name with a TF type is unknown.
		{"a b/MatMul:MatMul", "a b/MatMul:MatMul", UnknownType},
		{"_leading/MatMul:MatMul", "_leading/MatMul:MatMul", UnknownType},
		{"model/x:_Send", "model/x", "_Send"},
		// Empty parts.
		{":", "", UnknownType},
		{"jit(f)/:", "jit(f)/", UnknownType},
		{":dot_general", "", "dot_general"},
		{"", "", UnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.tf, func(t *testing.T) {
			op, typ := ParseTFOp(tt.tf)
			if op != tt.wantOp || typ != tt.wantType {
				t.Errorf("ParseTFOp(%q) = %q, %q, want %q, %q", tt.tf, op, typ, tt.wantOp, tt.wantType)
			}
		})
	}
}

func TestFrameworkOp(t *testing.T) {
	tests := []struct {
		name    string
		ev      capture.Event
		wantOp  string
		wantTyp string
	}{
		{"jax", capture.Event{Name: "fusion.1", Stats: tfOp("jit(jitted_run_model)/LogitsProcessor/dot_general:")},
			"jit(jitted_run_model)/LogitsProcessor/dot_general", "dot_general"},
		{"tf", capture.Event{Name: "k", Stats: tfOp("model/dense/MatMul:MatMul")}, "model/dense/MatMul", "MatMul"},
		{"empty tf_op is none", capture.Event{Name: "copy.3", Stats: tfOp("")}, "copy.3", UnknownType},
		{"no stat", capture.Event{Name: "conditional.3"}, "conditional.3", UnknownType},
		{"int stat", capture.Event{Name: "k", Stats: []capture.Stat{{Name: TFOpStat, Kind: capture.StatInt, Int: 5}}}, "5", UnknownType},
		{"HLO text", capture.Event{Name: "%copy-start.1 = (f32[5,1024]{1,0}, u32[]) copy-start(f32[5,1024]{1,0} %p)"}, "copy-start.1", UnknownType},
		{"HLO text without %", capture.Event{Name: "fusion.2 = f32[8] fusion(f32[8] %a), kind=kLoop"}, "fusion.2", UnknownType},
		{"HLO text with tf_op", capture.Event{Name: "%add.1 = f32[8] add(...)", Stats: tfOp("jit(f)/jit(main)/add:")}, "jit(f)/jit(main)/add", "add"},
		{"kernel name with = is not HLO", capture.Event{Name: "void k<a = 1>(int)"}, "void k<a = 1>(int)", UnknownType},
		{"XlaModule is no tf_op: hlo_op", capture.Event{Name: "Cijk_Ailk_Bljk_BBS", Stats: []capture.Stat{str(TFOpStat, "XlaModule:"), str(HLOOpStat, "custom-call.1")}},
			"custom-call.1", UnknownType},
		{"XlaModule with detail", capture.Event{Name: "wrapped_broadcast.kd", Stats: []capture.Stat{str(TFOpStat, "XlaModule:#hlo_module=jit_f#"), str(HLOOpStat, "wrapped_broadcast")}},
			"wrapped_broadcast", UnknownType},
		{"XlaModule, no hlo_op: kernel name", capture.Event{Name: "__amd_rocclr_copyBuffer.kd", Stats: []capture.Stat{str(TFOpStat, "XlaModule:")}},
			"__amd_rocclr_copyBuffer.kd", UnknownType},
		{"hlo_op without tf_op", capture.Event{Name: "sm90_gemm", Stats: []capture.Stat{str(HLOOpStat, "gemm_fusion_dot.3")}}, "gemm_fusion_dot.3", UnknownType},
		{"empty hlo_op", capture.Event{Name: "%copy.1 = f32[] copy()", Stats: []capture.Stat{str(HLOOpStat, "")}}, "copy.1", UnknownType},
		{"pytorch kernel", capture.Event{Name: "void cudnn::bn_fw_tr_1C11_kernel_NCHW<float>(...)", Stats: []capture.Stat{str(CatStat, "kernel"), str(FrameworkOpStat, "aten::cudnn_batch_norm")}},
			"void cudnn::bn_fw_tr_1C11_kernel_NCHW<float>(...)", "aten::cudnn_batch_norm"},
		{"pytorch memcpy", capture.Event{Name: "Memcpy HtoD (Pageable -> Device)", Stats: []capture.Stat{str(CatStat, "gpu_memcpy"), str(FrameworkOpStat, "aten::copy_")}},
			"Memcpy HtoD (Pageable -> Device)", "aten::copy_"},
		{"pytorch kernel, no framework op", capture.Event{Name: "ncclKernel_AllReduce", Stats: []capture.Stat{str(CatStat, "Kernel")}},
			"ncclKernel_AllReduce", UnknownType},
		{"pytorch kernel, empty framework op", capture.Event{Name: "k = 1", Stats: []capture.Stat{str(CatStat, "kernel"), str(FrameworkOpStat, "")}},
			"k = 1", UnknownType},
		{"framework_op wins over tf_op", capture.Event{Name: "k", Stats: []capture.Stat{str(TFOpStat, "a/MatMul:MatMul"), str(FrameworkOpStat, "aten::mm")}},
			"k", "aten::mm"},
		{"other cat is not kineto device op", capture.Event{Name: "x", Stats: []capture.Stat{str(CatStat, "cpu_op"), str(TFOpStat, "a/b:")}},
			"a/b", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, typ := FrameworkOp(&tt.ev)
			if op != tt.wantOp || typ != tt.wantTyp {
				t.Errorf("FrameworkOp(%q %v) = %q, %q, want %q, %q", tt.ev.Name, tt.ev.Stats, op, typ, tt.wantOp, tt.wantTyp)
			}
		})
	}
}

func TestHLOName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"%copy-start.1 = (f32[5]{0}, u32[]) copy-start(f32[5]{0} %p.1)", "copy-start.1"},
		{"%broadcast_add_fusion.1 = f32[5] fusion(...), kind=kLoop", "broadcast_add_fusion.1"},
		{"copy-done.2", "copy-done.2"},
		{"% = x", "% = x"},
		{" = x", " = x"},
		{"void f<int = 3>()", "void f<int = 3>()"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := HLOName(tt.in); got != tt.want {
			t.Errorf("HLOName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCategory(t *testing.T) {
	tests := []struct {
		name  string
		stats []capture.Stat
		want  string
	}{
		{"hlo_category", []capture.Stat{str(HLOCategoryStat, "convolution fusion")}, "convolution fusion"},
		{"hlo_category wins", []capture.Stat{str(CatStat, "kernel"), str(HLOCategoryStat, "custom-call")}, "custom-call"},
		{"empty hlo_category", []capture.Stat{str(HLOCategoryStat, ""), str(CatStat, "kernel")}, KernelCategory},
		{"kernel", []capture.Stat{str(CatStat, "kernel")}, KernelCategory},
		{"gpu_memcpy", []capture.Stat{str(CatStat, "gpu_memcpy")}, MemcpyCategory},
		{"gpu_memset", []capture.Stat{str(CatStat, "gpu_memset")}, MemsetCategory},
		{"old Kernel", []capture.Stat{str(CatStat, "Kernel")}, KernelCategory},
		{"old Memcpy", []capture.Stat{str(CatStat, "Memcpy")}, MemcpyCategory},
		{"old Memset", []capture.Stat{str(CatStat, "Memset")}, MemsetCategory},
		{"upper case", []capture.Stat{str(CatStat, "GPU_MEMCPY")}, MemcpyCategory},
		{"other cat", []capture.Stat{str(CatStat, "cpu_op")}, UnknownCategory},
		{"none", nil, UnknownCategory},
		{"int hlo_category", []capture.Stat{{Name: HLOCategoryStat, Kind: capture.StatInt, Int: 3}}, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := capture.Event{Name: "x", Stats: tt.stats}
			if got := Category(&ev); got != tt.want {
				t.Errorf("Category(%v) = %q, want %q", tt.stats, got, tt.want)
			}
		})
	}
}

func TestStatNumber(t *testing.T) {
	tests := []struct {
		name   string
		stat   capture.Stat
		want   float64
		wantOK bool
	}{
		{"int", capture.Stat{Name: "v", Kind: capture.StatInt, Int: -3}, -3, true},
		{"uint", capture.Stat{Name: "v", Kind: capture.StatUint, Uint: 1 << 40}, 1 << 40, true},
		{"double", capture.Stat{Name: "v", Kind: capture.StatDouble, Double: 2.5}, 2.5, true},
		{"string", str("v", " 1342177280 "), 1342177280, true},
		{"exponent", str("v", "1e3"), 1000, true},
		{"garbage", str("v", "many"), 0, false},
		{"nan", str("v", "NaN"), 0, false},
		{"inf", capture.Stat{Name: "v", Kind: capture.StatDouble, Double: math.Inf(1)}, 0, false},
		{"bytes", capture.Stat{Name: "v", Kind: capture.StatBytes, Bytes: []byte{1}}, 0, false},
		{"missing", capture.Stat{Name: "w", Kind: capture.StatInt, Int: 1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := capture.Event{Stats: []capture.Stat{tt.stat}}
			got, ok := StatNumber(&ev, "v")
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("StatNumber(%v) = %v, %v, want %v, %v", tt.stat, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// twoDevices is a capture with two TPUs, a module line that overlays the
// ops, and a host plane.
func twoDevices() *capture.Capture {
	ops := func(evs ...capture.Event) *capture.Line { return &capture.Line{Name: "XLA Ops", Events: evs} }
	return &capture.Capture{
		Planes: []*capture.Plane{
			{Name: "/host:CPU", Lines: []*capture.Line{{Name: "python", Events: []capture.Event{{Name: "run", Dur: 1000}}}}},
			{Name: "/device:TPU:0", Lines: []*capture.Line{
				{Name: "XLA Modules", Events: []capture.Event{{Name: "jit_f", Dur: 900}}},
				ops(
					capture.Event{Name: "fusion", Start: 0, Dur: 100, Stats: tfOp("f/a:dot_general")},
					capture.Event{Name: "while.1", Start: 100, Dur: 50},
					capture.Event{Name: "fusion", Start: 150, Dur: 30, Stats: tfOp("f/a:dot_general")},
				),
			}},
			{Name: "/device:GPU:1", Lines: []*capture.Line{
				{Name: "Stream #14(Compute)", Events: []capture.Event{{Name: "kernel", Dur: 7}}},
				{Name: "TensorFlow Ops", Events: []capture.Event{{Name: "MatMul", Dur: 8}}},
			}},
		},
	}
}

func TestDeviceOps(t *testing.T) {
	var got []string
	for op := range DeviceOps(twoDevices()) {
		got = append(got, op.Plane.Name+" "+op.Line.Name+" "+op.Operation+" "+op.Type+" "+op.Category)
	}
	want := []string{
		"/device:TPU:0 XLA Ops f/a dot_general unknown",
		"/device:TPU:0 XLA Ops while.1 Unknown unknown",
		"/device:TPU:0 XLA Ops f/a dot_general unknown",
		"/device:GPU:1 Stream #14(Compute) kernel Unknown unknown",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeviceOps mismatch (-want +got):\n%s", diff)
	}
	n := 0
	for range DeviceOps(twoDevices()) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("DeviceOps did not stop after break: %d", n)
	}
}

func TestSum(t *testing.T) {
	groups, total := Sum(twoDevices(), func(op Op) string { return op.Type })
	want := []Group[string]{{Key: "dot_general", Count: 2, Total: 130}, {Key: "Unknown", Count: 2, Total: 57}}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("Sum groups mismatch (-want +got):\n%s", diff)
	}
	if total != 187 {
		t.Errorf("Sum total = %d, want 187", total)
	}
	if g, tot := Sum(&capture.Capture{}, func(op Op) string { return op.Type }); g != nil || tot != 0 {
		t.Errorf("Sum(empty) = %v, %d, want nil, 0", g, tot)
	}
}
