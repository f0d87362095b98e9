package tracejson

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// renamer is a Recorder that takes late names and the session.
type renamer struct {
	capturetest.Recorder
	session    [2]int64
	hasSession bool
}

func (r *renamer) RenamePlane(plane int, name string) { r.Planes[plane].Name = name }
func (r *renamer) RenameLine(plane, line int, name string) {
	r.Lines[plane][line].Name = name
}
func (r *renamer) Session(start, end int64) { r.session, r.hasSession = [2]int64{start, end}, true }

// lineOf names an event's plane and line, "plane/line".
func (r *renamer) lineOf(e capturetest.Event) string {
	return r.Planes[e.Plane].Name + "/" + r.Lines[e.Plane][e.Line].Name
}

// TestWalkLateMetadataRenames: names that come after the events they name
// (kineto writes them last) reach a visitor that takes renames.
func TestWalkLateMetadataRenames(t *testing.T) {
	in := `{"traceEvents":[
{"ph":"X","pid":"7","tid":"3","ts":10,"dur":1,"name":"op"},
{"ph":"X","pid":7,"tid":9,"ts":11,"dur":1,"name":"py"},
{"ph":"M","pid":7,"name":"process_name","args":{"name":"/device:TPU:0"}},
{"ph":"M","pid":7,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}}]}`
	var r renamer
	st, err := Walk(context.Background(), strings.NewReader(in), &r, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.LateMetadata != 0 {
		t.Errorf("LateMetadata = %d, want 0 (all applied as renames)", st.LateMetadata)
	}
	var got []string
	for _, e := range r.Events {
		got = append(got, r.lineOf(e)+":"+e.Name)
	}
	want := []string{"/device:TPU:0/XLA Ops:op", "/device:TPU:0/tid 9:py"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q (the string pid \"7\" and the number 7 are one process)", got, want)
	}
}

// TestWalkStringIDs: pids and tids that are strings are read, not refused.
func TestWalkStringIDs(t *testing.T) {
	in := `[{"ph":"X","pid":"Spans","tid":"stream 7","ts":1,"dur":1,"name":"a"},
{"ph":"X","pid":"Spans","tid":"stream 8","ts":2,"dur":1,"name":"b"},
{"ph":"X","pid":"Other","tid":"stream 7","ts":3,"dur":1,"name":"c"}]`
	var r renamer
	if _, err := Walk(context.Background(), strings.NewReader(in), &r, WalkOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Events {
		got = append(got, r.lineOf(e))
	}
	want := []string{"pid Spans/tid stream 7", "pid Spans/tid stream 8", "pid Other/tid stream 7"}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	for _, bad := range []string{`[{"ph":"X","pid":1.5,"tid":1,"ts":1}]`, `[{"ph":"X","pid":1,"tid":true,"ts":1}]`} {
		if _, err := Walk(context.Background(), strings.NewReader(bad), &r, WalkOptions{}); err == nil {
			t.Errorf("Walk(%s) = nil error, want a malformed pid or tid", bad)
		}
	}
}

// kinetoDoc is a small kineto trace in the newer spelling (or the older one
// with old set): a thread runs cpu ops that launch a kernel and a memcpy, and
// the metadata comes last, as kineto writes it.
func kinetoDoc(old bool) string {
	cat := map[string]string{"cpu": "cpu_op", "rt": "cuda_runtime", "k": "kernel", "cp": "gpu_memcpy"}
	if old {
		cat = map[string]string{"cpu": "Operator", "rt": "Runtime", "k": "Kernel", "cp": "Memcpy"}
	}
	evs := []string{
		`{"ph":"X","cat":"Trace","name":"PyTorch Profiler (0)","pid":"Spans","tid":"PyTorch Profiler","ts":100,"dur":1000}`,
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"aten::conv2d","pid":42,"tid":"42","ts":200,"dur":100,"args":{}}`, cat["cpu"]),
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"aten::cudnn_convolution","pid":42,"tid":"42","ts":210,"dur":50}`, cat["cpu"]),
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"cudaLaunchKernel","pid":42,"tid":42,"ts":220,"dur":5,"args":{"correlation":7}}`, cat["rt"]),
		// A launch that sits in no cpu op.
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"cudaMemcpyAsync","pid":42,"tid":42,"ts":400,"dur":5,"args":{"correlation":8}}`, cat["rt"]),
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"conv_kernel","pid":0,"tid":"stream 7","ts":300,"dur":20,"args":{"device":0,"stream":7,"correlation":7}}`, cat["k"]),
		fmt.Sprintf(`{"ph":"X","cat":%q,"name":"Memcpy HtoD","pid":0,"tid":"stream 7","ts":420,"dur":2,"args":{"device":0,"stream":7,"correlation":8}}`, cat["cp"]),
		`{"ph":"X","cat":"cuda_sync","name":"Stream Sync","pid":0,"tid":7,"ts":430,"dur":1,"args":{"device":0}}`,
		`{"ph":"X","cat":"gpu_user_annotation","name":"step","pid":1,"tid":7,"ts":290,"dur":200,"args":{"device":1}}`,
		`{"ph":"s","id":7,"pid":42,"tid":42,"ts":220,"cat":"ac2g","name":"ac2g"}`,
		`{"name":"thread_name","ph":"M","pid":42,"tid":"42","args":{"name":"thread 42 (python)"}}`,
		`{"name":"process_labels","ph":"M","pid":0,"tid":0,"args":{"labels":"GPU 0"}}`,
		`{"name":"process_name","ph":"M","pid":0,"tid":0,"args":{"name":"python"}}`,
	}
	return `{"schemaVersion":1,"traceEvents":[` + strings.Join(evs, ",\n") + `]}`
}

// TestWalkKineto reads kineto's conventions as the TSL profiler would have
// written them: device work on /device:GPU:N, Stream #S, annotations and
// syncs on overlay lines, the rest on /host:CPU, the Trace event as the
// session, and each kernel's framework op from its launch.
func TestWalkKineto(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old=%v", old), func(t *testing.T) {
			doc := kinetoDoc(old)
			var r renamer
			st, err := Walk(context.Background(), strings.NewReader(doc), &r, WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !st.Kineto {
				t.Error("Stats.Kineto = false, want true")
			}
			if st.X != 8 {
				t.Errorf("X = %d, want 8 (the Trace event is the session, not an event)", st.X)
			}
			want := map[string]string{
				"aten::conv2d":            "/host:CPU/thread 42 (python)",
				"aten::cudnn_convolution": "/host:CPU/thread 42 (python)",
				"cudaLaunchKernel":        "/host:CPU/thread 42 (python)",
				"cudaMemcpyAsync":         "/host:CPU/thread 42 (python)",
				"conv_kernel":             "/device:GPU:0/Stream #7",
				"Memcpy HtoD":             "/device:GPU:0/Stream #7",
				"Stream Sync":             "/device:GPU:0/" + GPUSyncsLine,
				"step":                    "/device:GPU:1/" + GPUAnnotationsLine,
			}
			for _, e := range r.Events {
				if got := r.lineOf(e); got != want[e.Name] {
					t.Errorf("%s on %s, want %s", e.Name, got, want[e.Name])
				}
			}
			if !r.hasSession || r.session != [2]int64{-100 * capture.Microsecond, 900 * capture.Microsecond} {
				t.Errorf("session = %v (%v), want [0, 1000 µs] (the base is the first X event that is not the session)", r.session, r.hasSession)
			}
			// The kernel was launched inside aten::cudnn_convolution (the
			// innermost cpu op holding the launch); the memcpy by no op.
			var launched []string
			for _, e := range r.Events {
				if op, ok := st.FrameworkOps[e.Ref.Off]; ok {
					launched = append(launched, e.Name+"="+op)
				}
			}
			if !slices.Equal(launched, []string{"conv_kernel=aten::cudnn_convolution"}) {
				t.Errorf("framework ops = %q", launched)
			}
			// The loader adds cat and framework_op as stats.
			ld := NewLoader(strings.NewReader(doc))
			ld.SetFrameworkOps(st.FrameworkOps)
			for _, e := range r.Events {
				if e.Name != "conv_kernel" {
					continue
				}
				var ev capture.Event
				if err := ld.Load(e.Ref, &ev); err != nil {
					t.Fatal(err)
				}
				first, last := ev.Stats[0], ev.Stats[len(ev.Stats)-1]
				if first.Name != ops.CatStat || last.Name != ops.FrameworkOpStat || last.Str != "aten::cudnn_convolution" {
					t.Errorf("stats = %+v, want cat first and framework_op last", ev.Stats)
				}
			}
		})
	}
}

// TestWalkTSLWithCategoryStaysTSL: a category kineto does not use leaves a
// TSL trace read by its processes.
func TestWalkTSLWithCategoryStaysTSL(t *testing.T) {
	in := `{"traceEvents":[{"ph":"M","pid":3,"name":"process_name","args":{"name":"/device:TPU:0"}},
{"ph":"M","pid":3,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}},
{"ph":"X","cat":"xla","pid":3,"tid":3,"ts":1,"dur":1,"name":"fusion"}]}`
	var r renamer
	st, err := Walk(context.Background(), strings.NewReader(in), &r, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kineto || r.lineOf(r.Events[0]) != "/device:TPU:0/XLA Ops" {
		t.Errorf("kineto %v, line %s; want a TSL read onto /device:TPU:0/XLA Ops", st.Kineto, r.lineOf(r.Events[0]))
	}
}

// TestWalkSessionMarker: fleetprof's own session marker (cat Trace on the
// skipped process) is the session and leaves a TSL trace read as TSL.
func TestWalkSessionMarker(t *testing.T) {
	in := `{"traceEvents":[{"ph":"M","pid":3,"name":"process_name","args":{"name":"/device:TPU:0"}},
{"ph":"M","pid":3,"tid":3,"name":"thread_name","args":{"name":"XLA Ops"}},
{"ph":"M","pid":9,"name":"process_name","args":{"name":"fleetprof"}},
{"ph":"X","cat":"Trace","name":"fleetprof session","pid":9,"tid":0,"ts":5,"dur":100},
{"ph":"X","pid":3,"tid":3,"ts":10,"dur":1,"name":"fusion"}]}`
	var r renamer
	st, err := Walk(context.Background(), strings.NewReader(in), &r, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kineto || st.X != 1 || r.lineOf(r.Events[0]) != "/device:TPU:0/XLA Ops" {
		t.Errorf("kineto %v, X %d, line %s; want a TSL read with one event", st.Kineto, st.X, r.lineOf(r.Events[0]))
	}
	if want := [2]int64{-5 * capture.Microsecond, 95 * capture.Microsecond}; !r.hasSession || r.session != want {
		t.Errorf("session = %v (%v), want %v", r.session, r.hasSession, want)
	}
}

func TestDeviceNumber(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "12": "12", "GPU 3": "3", "gpu3": "3", "Spans": "Spans", "-1": "-1"} {
		if got := deviceNumber(in); got != want {
			t.Errorf("deviceNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWalkKinetoNamesFirst: thread names met before kineto reading began
// (fleetprof's own JSON writes names first) still name the host lines.
func TestWalkKinetoNamesFirst(t *testing.T) {
	in := `{"traceEvents":[{"name":"thread_name","ph":"M","pid":42,"tid":42,"args":{"name":"thread 42 (python)"}},
{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":42,"tid":42,"ts":1,"dur":1}]}`
	var r renamer
	if _, err := Walk(context.Background(), strings.NewReader(in), &r, WalkOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.lineOf(r.Events[0]); got != "/host:CPU/thread 42 (python)" {
		t.Errorf("line = %q, want /host:CPU/thread 42 (python)", got)
	}
}
