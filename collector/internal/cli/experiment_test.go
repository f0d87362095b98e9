package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

const scoreBody = `{"query":"Is this positive?","items":["Great product!"],"label_token_ids":[1],"model":"m"}`

func TestExperimentSpec(t *testing.T) {
	body := filepath.Join(t.TempDir(), "score.json")
	if err := os.WriteFile(body, []byte(scoreBody), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := captureopt.Defaults()
	opts.HostTracerLevel, opts.DeviceTracerLevel = 2, 1
	f := experimentFlags{
		name: "scaling", selector: "model=qwen3", body: body, vary: []string{"input_len=128,512", "batch=1,4"},
		endpoints: []string{"/v1/score", "/generate"}, repeat: 2, warmups: 0, opts: opts,
		labels: []string{"team=perf"},
	}
	got, err := f.spec()
	if err != nil {
		t.Fatal(err)
	}
	want := &collectorv1.ExperimentSpec{
		Name: "scaling", Selector: "model=qwen3", WorkloadBody: []byte(scoreBody), Endpoints: []string{"/v1/score", "/generate"},
		Repeat: 2, Warmups: -1, Labels: map[string]string{"team": "perf"},
		Vary:    []*collectorv1.Parameter{{Name: "input_len", Values: []int64{128, 512}}, {Name: "batch", Values: []int64{1, 4}}},
		Options: &agentv1.CaptureOptions{HostTracerLevel: 2, DeviceTracerLevel: 1, PythonTracerLevel: -1},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

// TestExperimentUsage: bad flags are usage errors (exit 2) before any call
// to a collector.
func TestExperimentUsage(t *testing.T) {
	body := filepath.Join(t.TempDir(), "score.json")
	if err := os.WriteFile(body, []byte(scoreBody), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no selector", []string{"--workload-body", body, "--vary", "batch=1"}, "--selector is required"},
		{"no body", []string{"-l", "a=b", "--vary", "batch=1"}, "--workload-body is required"},
		{"no vary", []string{"-l", "a=b", "--workload-body", body}, "--vary is required"},
		{"bad vary", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch"}, "want name=v1,v2"},
		{"negative duration", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--duration", "-1s"}, "--duration"},
		{"tracer level out of range", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--device-tracer-level", "7"}, "--device-tracer-level"},
		{"level 0 cannot be sent", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--host-tracer-level", "0"}, "--host-tracer-level"},
		{"unknown param", []string{"-l", "a=b", "--workload-body", body, "--vary", "temperature=1"}, `unknown parameter "temperature"`},
		{"bad endpoint", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--endpoints", "/v1/chat"}, `endpoint "/v1/chat"`},
		{"repeat", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--repeat", "0"}, "--repeat at least 1"},
		{"format", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--format", "xml"}, "--format must be table or json"},
		{"scheduled without a name", []string{"-l", "a=b", "--workload-body", body, "--vary", "batch=1", "--cron", "@daily"}, "needs a name"},
		{"report without -o", []string{"report", "x-1"}, "-o DIR is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			// No collector listens on port 1: a call would fail differently.
			code := Main(context.Background(), append([]string{"experiment", "--collector", "127.0.0.1:1"}, tt.args...), &out, &errw)
			if code != filecmd.ExitUsage || !strings.Contains(errw.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errw.String(), filecmd.ExitUsage, tt.want)
			}
		})
	}
}
