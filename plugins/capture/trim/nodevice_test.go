package trim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
)

// TestKindOfFixtures: every real capture is told apart by its contents.
func TestKindOfFixtures(t *testing.T) {
	td := fixtures.Dir(t)
	tests := []struct {
		path string
		want trim.TraceKind
	}{
		{"real/hta-alexnet/benchmark_result_2869224_1695835535_trace.json.gz", trim.KindPyTorch},
		{"real/kineto-resnet50/worker0.1623143089861.pt.trace.json.gz", trim.KindPyTorch},
		{"real/xprof-gpu-multi-worker/34.83.195.179_6003.xplane.pb", trim.KindTensorFlow},
		{"real/jax-rocm-gemm/tw003.xplane.pb", trim.KindJAX},
		{"real/xprof-tpu-inference/tpu_inference_2.xplane.pb", trim.KindJAX},
		{"real/vllm-tpu-2026-01-11/t1v-n-9eb622fc-w-0.trace.json.gz", trim.KindJAX},
		{"tiny/tiny-host.trace.json", trim.KindJAX},
		{"seed-replica/t1v-n-3d21a6bb-w-0.xplane.pb", trim.KindJAX},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c, err := load.File(context.Background(), filepath.Join(td, tt.path), load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if got := trim.KindOf(c); got != tt.want {
				t.Errorf("KindOf = %q, want %q", got, tt.want)
			}
			if err := trim.CheckDevice(c); err != nil {
				t.Errorf("CheckDevice = %v, want nil: the capture has device ops", err)
			}
		})
	}
}

// withoutEvents rewrites a trace JSON without the events drop says.
func withoutEvents(t *testing.T, raw []byte, drop func(ev map[string]any) bool) []byte {
	t.Helper()
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, e := range doc["traceEvents"].([]any) {
		if m, ok := e.(map[string]any); ok && drop(m) {
			continue
		}
		kept = append(kept, e)
	}
	doc["traceEvents"] = kept
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gpuWork reports a kineto event that only CUDA activity records.
func gpuWork(ev map[string]any) bool {
	cat, _ := ev["cat"].(string)
	switch strings.ToLower(cat) {
	case "kernel", "gpu_memcpy", "gpu_memset", "memcpy", "memset", "gpu_user_annotation", "cuda_sync":
		return true
	}
	return false
}

// TestNoDeviceWords: a trace with no device work says which kind of trace
// it is and what would have captured device work, not one fixed hint.
func TestNoDeviceWords(t *testing.T) {
	td := fixtures.Dir(t)
	hostOnlyXPlane := func(path string) []byte {
		var space xplanev1.XSpace
		if err := proto.Unmarshal(fixtures.ReadFile(t, filepath.Join(td, path)), &space); err != nil {
			t.Fatal(err)
		}
		var planes []*xplanev1.XPlane
		for _, p := range space.GetPlanes() {
			if !capture.IsDevicePlane(p.GetName()) {
				planes = append(planes, p)
			}
		}
		space.Planes = planes
		b, err := proto.Marshal(&space)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kineto := func(evs string) []byte {
		return []byte(`{"schemaVersion":1,"traceEvents":[` + evs + `,{"ph":"M","pid":7,"tid":7,"name":"thread_name","args":{"name":"python"}}]}`)
	}
	tests := []struct {
		name    string
		file    string
		data    func() []byte
		want    error
		kind    trim.TraceKind
		says    []string
		notSays []string
	}{
		{
			name: "PyTorch trace recorded without CUDA (real ResNet-50, GPU events removed)",
			file: "resnet.pt.trace.json",
			data: func() []byte {
				return withoutEvents(t, fixtures.ReadFile(t, filepath.Join(td, "real/kineto-resnet50/worker0.1623143089861.pt.trace.json.gz")), gpuWork)
			},
			want: trim.ErrNoDevicePlane, kind: trim.KindPyTorch,
			says: []string{"PyTorch profiler (kineto) trace", "ProfilerActivity.CUDA"}, notSays: []string{"device_tracer_level"},
		},
		{
			name: "PyTorch trace with GPU annotations only",
			file: "annotations.pt.trace.json",
			data: func() []byte {
				return kineto(`{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":7,"tid":7,"ts":1,"dur":5},` +
					`{"ph":"X","cat":"gpu_user_annotation","name":"forward","pid":0,"tid":7,"ts":2,"dur":3,"args":{"device":0}}`)
			},
			want: trim.ErrNoDeviceOps, kind: trim.KindPyTorch,
			says: []string{"PyTorch", "nothing ran on the GPU"}, notSays: []string{"device_tracer_level"},
		},
		{
			name: "JAX trace JSON without device planes (real vLLM TPU, device planes removed)",
			file: "vllm.trace.json",
			data: func() []byte {
				raw := fixtures.ReadFile(t, filepath.Join(td, "real/vllm-tpu-2026-01-11/t1v-n-9eb622fc-w-0.trace.json.gz"))
				return withoutEvents(t, raw, func(ev map[string]any) bool {
					n, ok := ev["pid"].(json.Number)
					pid, _ := n.Int64()
					return ok && pid != 701 && pid != 501
				})
			},
			want: trim.ErrNoDevicePlane, kind: trim.KindJAX,
			says: []string{"JAX/TSL profiler trace (trace JSON)", "device_tracer_level=1"}, notSays: []string{"ProfilerActivity"},
		},
		{
			name: "JAX XPlane without device planes (real TPU inference)",
			file: "tpu.xplane.pb",
			data: func() []byte { return hostOnlyXPlane("real/xprof-tpu-inference/tpu_inference_2.xplane.pb") },
			want: trim.ErrNoDevicePlane, kind: trim.KindJAX,
			says: []string{"JAX/TSL profiler trace (XPlane)", "device_tracer_level=1"}, notSays: []string{"ProfilerActivity", "CUPTI"},
		},
		{
			name: "TensorFlow XPlane without device planes (real multi-worker GPU)",
			file: "tf.xplane.pb",
			data: func() []byte { return hostOnlyXPlane("real/xprof-gpu-multi-worker/34.83.195.179_6003.xplane.pb") },
			want: trim.ErrNoDevicePlane, kind: trim.KindTensorFlow,
			says: []string{"TensorFlow profiler trace (XPlane)", "CUPTI"}, notSays: []string{"ProfilerActivity"},
		},
		{
			name: "trace JSON naming no profiler",
			file: "other.trace.json",
			data: func() []byte {
				return []byte(`{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":1,"dur":2,"name":"work"},{}]}`)
			},
			want: trim.ErrNoDevicePlane, kind: trim.KindUnknown,
			says: []string{"names no profiler", "device_tracer_level=1", "ProfilerActivity.CUDA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(p, tt.data(), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := load.File(context.Background(), p, load.Options{TempDir: t.TempDir()})
			if !errors.Is(err, tt.want) {
				t.Fatalf("load = %v, want %v", err, tt.want)
			}
			var nd *trim.NoDeviceError
			if !errors.As(err, &nd) || nd.Kind != tt.kind {
				t.Errorf("load = %v, want a *NoDeviceError of kind %q", err, tt.kind)
			}
			msg := err.Error()
			t.Log(msg)
			for _, s := range tt.says {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not say %q", msg, s)
				}
			}
			for _, s := range tt.notSays {
				if strings.Contains(msg, s) {
					t.Errorf("error %q says %q", msg, s)
				}
			}
			// AllowNoDevice keeps the capture, with no error.
			c, err := load.File(context.Background(), p, load.Options{TempDir: t.TempDir(), Trim: trim.Options{AllowNoDevice: true}})
			if err != nil {
				t.Fatalf("load with AllowNoDevice: %v", err)
			}
			if len(c.Windows) != 0 || c.EventsKept() != 0 {
				t.Errorf("no-device capture kept %d events in %d windows", c.EventsKept(), len(c.Windows))
			}
		})
	}
}

// TestPyTorchKernelsNeverAskForDeviceTracerLevel: a post-processed sglang
// (PyTorch) trace with GPU kernels, string pids and no args.device reads
// with its device ops, and no error at all.
func TestPyTorchKernelsNeverAskForDeviceTracerLevel(t *testing.T) {
	data := []byte(`{"traceEvents":[` +
		`{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":"TP0","tid":"scheduler","ts":100,"dur":50},` +
		`{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":"TP0","tid":"scheduler","ts":110,"dur":5,"args":{"correlation":1}},` +
		`{"ph":"X","cat":"kernel","name":"sm90_xmma_gemm","pid":"GPU 0","tid":"stream 7","ts":120,"dur":30,"args":{"correlation":1}},` +
		`{"ph":"M","pid":"GPU 0","name":"process_name","args":{"name":"GPU 0"}}]}`)
	p := filepath.Join(t.TempDir(), "sglang-merged.trace.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := load.File(context.Background(), p, load.Options{TempDir: t.TempDir()})
	if err != nil {
		if strings.Contains(err.Error(), "device_tracer_level") {
			t.Fatalf("a PyTorch trace with GPU kernels was told to set device_tracer_level: %v", err)
		}
		t.Fatalf("load: %v", err)
	}
	if c.DeviceOpEvents() != 1 || trim.KindOf(c) != trim.KindPyTorch {
		t.Errorf("device ops %d, kind %q; want 1, pytorch", c.DeviceOpEvents(), trim.KindOf(c))
	}
}

func TestAdviceNeverEmpty(t *testing.T) {
	for _, k := range []trim.TraceKind{trim.KindJAX, trim.KindPyTorch, trim.KindTensorFlow, trim.KindUnknown} {
		for _, noOps := range []bool{false, true} {
			if trim.Advice(k, noOps) == "" {
				t.Errorf("Advice(%q, %v) is empty", k, noOps)
			}
		}
		e := &trim.NoDeviceError{Err: trim.ErrNoDevicePlane, Kind: k}
		if !errors.Is(e, trim.ErrNoDevicePlane) || errors.Is(e, trim.ErrNoDeviceOps) || !strings.HasPrefix(e.Error(), trim.ErrNoDevicePlane.Error()) {
			t.Errorf("NoDeviceError{%q} = %q: want it to wrap ErrNoDevicePlane only", k, e.Error())
		}
	}
}
