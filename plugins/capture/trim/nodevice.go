package trim

import (
	"errors"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// TraceKind says which profiler wrote a trace, as far as its contents tell:
// enough to say what would have captured the device work it lacks.
type TraceKind string

// The kinds of trace KindOf tells apart.
const (
	// KindJAX is the TSL profiler's output from JAX/XLA (sglang-jax, vLLM
	// on TPU, plain JAX): an XPlane or the trace JSON converted from it.
	KindJAX TraceKind = "jax"
	// KindPyTorch is the PyTorch profiler's (kineto) trace JSON (sglang and
	// vLLM on GPU, torch.profiler).
	KindPyTorch TraceKind = "pytorch"
	// KindTensorFlow is the TSL profiler's output from TensorFlow.
	KindTensorFlow TraceKind = "tensorflow"
	// KindUnknown is a trace whose contents name no profiler.
	KindUnknown TraceKind = ""
)

// NoDeviceError says that a trace holds no device work, which kind of trace
// it is, and what would have captured the device work. It wraps
// ErrNoDevicePlane or ErrNoDeviceOps.
type NoDeviceError struct {
	// Err is ErrNoDevicePlane or ErrNoDeviceOps.
	Err error
	// Kind is the kind of trace.
	Kind TraceKind
	// Format is the source's format ("xplane", "trace_json", "fpcap"), if
	// known.
	Format string
}

// Error implements error: the sentinel's words, the kind of trace, and the
// advice for that kind.
func (e *NoDeviceError) Error() string {
	return e.Err.Error() + ": " + e.Kind.describe(e.Format) + ": " + Advice(e.Kind, errors.Is(e.Err, ErrNoDeviceOps))
}

// Unwrap returns Err.
func (e *NoDeviceError) Unwrap() error { return e.Err }

// describe names the kind of trace for people.
func (k TraceKind) describe(format string) string {
	var f string
	switch format {
	case "xplane":
		f = "XPlane"
	case "trace_json":
		f = "trace JSON"
	case "fpcap":
		f = ".fpcap"
	}
	with := func(s string) string {
		if f == "" {
			return s
		}
		return s + " (" + f + ")"
	}
	switch k {
	case KindJAX:
		return with("this is a JAX/TSL profiler trace")
	case KindPyTorch:
		return with("this is a PyTorch profiler (kineto) trace")
	case KindTensorFlow:
		return with("this is a TensorFlow profiler trace")
	}
	if f == "" {
		return "the trace names no profiler fleetprof knows"
	}
	return "this " + f + " names no profiler fleetprof knows"
}

// Advice says what would have captured device work in a trace of kind k.
// noOps is for a trace whose device planes exist but hold no ops: device
// tracing was on, and nothing ran on the device while it profiled.
func Advice(k TraceKind, noOps bool) string {
	if noOps {
		switch k {
		case KindPyTorch:
			return "its GPU planes hold no kernel, memcpy or memset, only annotations or syncs: nothing ran on the GPU while it profiled; send requests while profiling"
		default:
			return "device tracing was on but nothing ran on the device while it profiled; send requests while profiling (a workload)"
		}
	}
	switch k {
	case KindJAX:
		return "device tracing was off: profile with device_tracer_level=1 (sglang-jax's /start_profile honours it only when patched; " +
			"the JAX profiler service, fleetprof-agent --backend grpc, takes it with ProfileOptions version 1)"
	case KindPyTorch:
		return "CUDA activity was not recorded: profile with torch.profiler.profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) " +
			"(sglang: /start_profile with \"activities\": [\"CPU\", \"GPU\"])"
	case KindTensorFlow:
		return "the GPU tracer did not run: check that CUPTI loads (libcupti on LD_LIBRARY_PATH) and profile with " +
			"tf.profiler.experimental.ProfilerOptions(device_tracer_level=1)"
	}
	return "the profiler ran without device tracing: with JAX/XLA (sglang-jax, vLLM TPU) set device_tracer_level=1; " +
		"with PyTorch add ProfilerActivity.CUDA to the profiler's activities"
}

// CheckDevice returns nil when c has device op events, else a
// *NoDeviceError (wrapping ErrNoDevicePlane or ErrNoDeviceOps) with the
// kind of trace KindOf finds. c should hold the summaries of what trimming
// dropped (Options.AllowNoDevice), which KindOf reads.
func CheckDevice(c *capture.Capture) error {
	devices := false
	for _, p := range c.Planes {
		if capture.IsDevicePlane(p.Name) {
			devices = true
			if p.OpEvents > 0 {
				return nil
			}
		}
	}
	err := ErrNoDevicePlane
	if devices {
		err = ErrNoDeviceOps
	}
	return &NoDeviceError{Err: err, Kind: KindOf(c), Format: c.Source.Format}
}

// KindOf tells which profiler wrote c from its line names and the names
// and stats of its events, kept and dropped: PyTorch's kineto by its ATen
// ops, CUDA runtime calls, profiler steps, categories and GPU overlay
// lines; TensorFlow by its executor, session and eager runtime events and
// TensorFlow Ops lines; JAX/XLA by its jitted functions, XLA module lines,
// python tracer and PjRt events. A trace with none of these is JAX/TSL when
// it is an XPlane (the TSL profiler's format), else KindUnknown.
func KindOf(c *capture.Capture) TraceKind {
	var n [sigNone + 1]int // by signal
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			n[lineSignal(l.Name)]++
			for i := range l.Events {
				e := &l.Events[i]
				if _, ok := e.Stat("cat"); ok {
					n[sigTorch]++
				}
				n[nameSignal(e.Name)]++
			}
		}
	}
	for _, d := range c.Dropped {
		n[nameSignal(d.Name)]++
	}
	switch {
	case n[sigTorch] > 0:
		return KindPyTorch
	case n[sigTF] > n[sigJAX]:
		return KindTensorFlow
	case n[sigJAX] > 0, c.Source.Format == "xplane":
		return KindJAX
	}
	return KindUnknown
}

// Signals, as indexes of KindOf's counts; sigNone is counted and ignored.
const (
	sigTorch = iota
	sigTF
	sigJAX
	sigNone
)

func lineSignal(name string) int {
	switch name {
	case "GPU annotations", "GPU syncs":
		return sigTorch
	case "TensorFlow Ops", "TensorFlow Name Scope":
		return sigTF
	case "XLA Modules", "XLA Ops", "XLA TraceMe":
		return sigJAX
	}
	return sigNone
}

// Event name prefixes that only one profiler writes.
var (
	torchPrefixes = []string{"aten::", "ProfilerStep#", "Optimizer.step#", "Optimizer.zero_grad#", "autograd::", "c10d::", "nccl:", "torch/", "nn.Module: ", "<built-in method "}
	tfPrefixes    = []string{"SessionRun", "ExecutorState::Process", "EagerExecute", "EagerKernelExecute", "EagerLocalExecute", "__inference_", "FunctionRun", "ExecutorDoneCallback", "IteratorGetNext", "Iterator::"}
	jaxPrefixes   = []string{"PjitFunction", "pjit", "jit_", "$", "PjRt", "pjrt", "py_xla_", "XlaModule", "run_batch", "forward_batch_generation"}
)

func nameSignal(name string) int {
	// CUDA runtime and driver calls: cudaLaunchKernel, cuLaunchKernel.
	if rest, ok := strings.CutPrefix(name, "cuda"); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
		return sigTorch
	}
	for _, p := range torchPrefixes {
		if strings.HasPrefix(name, p) {
			return sigTorch
		}
	}
	for _, p := range tfPrefixes {
		if strings.HasPrefix(name, p) {
			return sigTF
		}
	}
	for _, p := range jaxPrefixes {
		if strings.HasPrefix(name, p) {
			return sigJAX
		}
	}
	return sigNone
}
