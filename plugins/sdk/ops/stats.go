package ops

import (
	"strconv"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// The stats this package reads from device op events. Readers carry them
// from the source unchanged: XPlane event and event-metadata stats, trace
// JSON "args".
const (
	// TFOpStat is the framework op XLA records on an op, "<name>:<type>"
	// ("jit(f)/dot_general:", "model/dense/MatMul:MatMul"), parsed as
	// ParseTFOp says. XLA on GPU writes "XlaModule:" on kernels: that names
	// the module, not the op, and counts as no tf_op.
	TFOpStat = "tf_op"
	// HLOOpStat is the HLO instruction a GPU kernel runs ("custom-call.1"),
	// the operation of a kernel with no tf_op.
	HLOOpStat = "hlo_op"
	// HLOCategoryStat is XLA's category of an op ("convolution fusion",
	// "loop fusion", "copy-done", "all-reduce", "custom-call", ...).
	HLOCategoryStat = "hlo_category"
	// FrameworkOpStat is set by the trace JSON reader on each PyTorch
	// (kineto) device op: kernel, memcpy or memset. It holds the framework op
	// that launched it, e.g. "aten::cudnn_convolution": the innermost cpu_op
	// on the launching thread whose interval holds the whole launch.
	FrameworkOpStat = "framework_op"
	// CatStat is set by the trace JSON reader on every kineto event: the
	// JSON event's "cat" ("kernel", "gpu_memcpy", "cpu_op", ...).
	CatStat = "cat"
	// FlopsStat is the floating point operations XLA's cost model counts
	// for one execution of an op.
	FlopsStat = "flops"
	// ModelFlopsStat is the useful floating point operations of an op (no
	// rematerialisation or padding); read when FlopsStat is missing.
	ModelFlopsStat = "model_flops"
	// BytesAccessedStat is the bytes one execution of an op reads and
	// writes, by XLA's cost model.
	BytesAccessedStat = "bytes_accessed"
	// XLAOpNameStat is set by the XPlane reader on a device op whose
	// program's HLO module the capture carries (the /host:metadata plane):
	// the op_name XLA recorded in the instruction's metadata, e.g.
	// "jit(dot)/dot_general" for a GPU kernel whose tf_op only names its
	// module. It is shown beside the operation, never instead of it.
	XLAOpNameStat = "xla_op_name"
)

// StatName is the tf_op stat's name.
//
// Deprecated: use TFOpStat.
const StatName = TFOpStat

// StatString returns a stat's value as text (numbers in decimal, see
// capture.Stat.String) and whether the event has the stat.
func StatString(ev *capture.Event, name string) (string, bool) {
	s, ok := ev.Stat(name)
	if !ok {
		return "", false
	}
	if s.Kind == capture.StatString {
		return s.Str, true
	}
	return s.String(), true
}

// StatNumber returns a stat's value as a number, whatever its kind: string
// stats are parsed as decimals. It reports false when the event has no such
// stat or its value is not a finite number.
func StatNumber(ev *capture.Event, name string) (float64, bool) {
	s, ok := ev.Stat(name)
	if !ok {
		return 0, false
	}
	var v float64
	switch s.Kind {
	case capture.StatInt:
		v = float64(s.Int)
	case capture.StatUint:
		v = float64(s.Uint)
	case capture.StatDouble:
		v = s.Double
	case capture.StatString:
		f, err := strconv.ParseFloat(strings.TrimSpace(s.Str), 64)
		if err != nil {
			return 0, false
		}
		v = f
	default:
		return 0, false
	}
	if v != v || v > 1e300 || v < -1e300 { // NaN or ±Inf
		return 0, false
	}
	return v, true
}
