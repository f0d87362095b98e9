package experiment

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

const seedScore = `{"query": "Is this positive?", "items": ["Great product!", "Terrible experience"],
  "label_token_ids": [9834, 902], "apply_softmax": true, "model": "Qwen/Qwen3-0.6B"}`

func TestWorkload(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		ep      string
		params  map[string]int64
		repeat  int32
		warmups int32
		want    *agentv1.Workload
		wantErr string
	}{
		{
			name: "score: query repeated, items repeated", body: seedScore, ep: EndpointScore,
			params: map[string]int64{ParamInputLen: 5, ParamBatch: 3},
			want: &agentv1.Workload{Endpoint: EndpointScore, Warmups: 1, Requests: 1, Concurrency: 1,
				Body: []byte(`{"apply_softmax":true,"items":["Great product!","Terrible experience","Great product!"],"label_token_ids":[9834,902],"model":"Qwen/Qwen3-0.6B","query":"Is this positive? Is this"}`)},
		},
		{
			name: "score: query cut, items cut", body: seedScore, ep: EndpointScore, repeat: 3, warmups: -1,
			params: map[string]int64{ParamInputLen: 2, ParamBatch: 1},
			want: &agentv1.Workload{Endpoint: EndpointScore, Warmups: 0, Requests: 3, Concurrency: 1,
				Body: []byte(`{"apply_softmax":true,"items":["Great product!"],"label_token_ids":[9834,902],"model":"Qwen/Qwen3-0.6B","query":"Is this"}`)},
		},
		{
			name: "generate from a score body: query and first item, one token, batch concurrent", body: seedScore, ep: EndpointGenerate, repeat: 2, warmups: 2,
			params: map[string]int64{ParamInputLen: 4, ParamBatch: 4},
			want: &agentv1.Workload{Endpoint: EndpointGenerate, Warmups: 2, Requests: 8, Concurrency: 4,
				Body: []byte(`{"model":"Qwen/Qwen3-0.6B","sampling_params":{"max_new_tokens":1},"text":"Is this positive? Is Great product!"}`)},
		},
		{
			name: "token ids", body: `{"query":[1,2,3],"items":[[7],[8]],"label_token_ids":[1],"model":"m"}`, ep: EndpointGenerate,
			params: map[string]int64{ParamInputLen: 7},
			want: &agentv1.Workload{Endpoint: EndpointGenerate, Warmups: 1, Requests: 1, Concurrency: 1,
				Body: []byte(`{"input_ids":[1,2,3,1,2,3,1,7],"model":"m","sampling_params":{"max_new_tokens":1}}`)},
		},
		{
			name: "a generate body keeps its sampling params", body: `{"text":["a b","c"],"sampling_params":{"max_new_tokens":8}}`, ep: EndpointGenerate,
			params: map[string]int64{ParamInputLen: 3},
			want: &agentv1.Workload{Endpoint: EndpointGenerate, Warmups: 1, Requests: 1, Concurrency: 1,
				Body: []byte(`{"sampling_params":{"max_new_tokens":8},"text":"a b a"}`)},
		},
		{name: "generate body to score", body: `{"text":"a b"}`, ep: EndpointScore, wantErr: "cannot make /v1/score requests"},
		{name: "too many generate requests", body: seedScore, ep: EndpointGenerate, repeat: 1000, params: map[string]int64{ParamBatch: 256}, wantErr: "over 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBody([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Workload(tt.ep, tt.params, tt.repeat, tt.warmups)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Workload = %v, want ErrBadSpec with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Workload (-want +got):\n%s\nbody %s", diff, got.GetBody())
			}
		})
	}
}

func TestParseBodyErrors(t *testing.T) {
	for _, body := range []string{
		`[]`, `nope`, `{"model":"m"}`, `{"query":"","items":["a"]}`, `{"query":"q","items":[]}`,
		`{"query":"q","items":[[1]]}`, `{"query":7,"items":["a"]}`, `{"text":[]}`, `{"input_ids":"x"}`,
	} {
		if _, err := ParseBody([]byte(body)); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseBody(%s) = %v, want ErrBadSpec", body, err)
		}
	}
}

func spec(mut func(*collectorv1.ExperimentSpec)) *collectorv1.ExperimentSpec {
	s := &collectorv1.ExperimentSpec{
		Selector: "model=qwen3", WorkloadBody: []byte(seedScore),
		Vary: []*collectorv1.Parameter{{Name: ParamInputLen, Values: []int64{128, 512, 2048}}, {Name: ParamBatch, Values: []int64{1, 4}}},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

func TestValidate(t *testing.T) {
	cells, err := Validate(spec(func(s *collectorv1.ExperimentSpec) { s.Endpoints = []string{EndpointScore, EndpointGenerate} }))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		ep       string
		len, bat int64
	}
	var got []key
	for _, c := range cells {
		got = append(got, key{c.Endpoint, c.Params[ParamInputLen], c.Params[ParamBatch]})
	}
	want := []key{
		{EndpointScore, 128, 1}, {EndpointScore, 128, 4}, {EndpointScore, 512, 1}, {EndpointScore, 512, 4}, {EndpointScore, 2048, 1}, {EndpointScore, 2048, 4},
		{EndpointGenerate, 128, 1}, {EndpointGenerate, 128, 4}, {EndpointGenerate, 512, 1}, {EndpointGenerate, 512, 4}, {EndpointGenerate, 2048, 1}, {EndpointGenerate, 2048, 4},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(key{})); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		mut  func(*collectorv1.ExperimentSpec)
		want string
	}{
		{"nil", nil, ""},
		{"bad selector", func(s *collectorv1.ExperimentSpec) { s.Selector = "a=b,,c" }, "selector"},
		{"no vary", func(s *collectorv1.ExperimentSpec) { s.Vary = nil }, "vary nothing"},
		{"unknown param", func(s *collectorv1.ExperimentSpec) { s.Vary[0].Name = "temperature" }, `unknown parameter "temperature"`},
		{"twice", func(s *collectorv1.ExperimentSpec) { s.Vary[1].Name = ParamInputLen }, "varied twice"},
		{"zero", func(s *collectorv1.ExperimentSpec) { s.Vary[0].Values = []int64{0} }, "input_len value 0"},
		{"batch too large", func(s *collectorv1.ExperimentSpec) { s.Vary[1].Values = []int64{257} }, "batch value 257"},
		{"duplicate value", func(s *collectorv1.ExperimentSpec) { s.Vary[1].Values = []int64{4, 4} }, "a value twice"},
		{"no values", func(s *collectorv1.ExperimentSpec) { s.Vary[1].Values = nil }, "0 values"},
		{"endpoint", func(s *collectorv1.ExperimentSpec) { s.Endpoints = []string{"/v1/chat"} }, `endpoint "/v1/chat"`},
		{"endpoint twice", func(s *collectorv1.ExperimentSpec) { s.Endpoints = []string{"/generate", "/generate"} }, "given twice"},
		{"repeat", func(s *collectorv1.ExperimentSpec) { s.Repeat = -1 }, "repeat -1"},
		{"warmups", func(s *collectorv1.ExperimentSpec) { s.Warmups = 101 }, "warmups 101"},
		{"body", func(s *collectorv1.ExperimentSpec) { s.WorkloadBody = []byte("{}") }, "neither"},
		{"cells", func(s *collectorv1.ExperimentSpec) {
			s.Vary[0].Values = make([]int64, 64)
			for i := range s.Vary[0].Values {
				s.Vary[0].Values[i] = int64(i + 1)
			}
			s.Vary[1].Values = []int64{1, 2, 3, 4, 5}
		}, "320 cells"},
		{"negative duration", func(s *collectorv1.ExperimentSpec) { s.Options = &agentv1.CaptureOptions{DurationMs: -1} }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *collectorv1.ExperimentSpec
			if tt.mut != nil {
				s = spec(tt.mut)
			}
			if _, err := Validate(s); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want ErrBadSpec naming %q", err, tt.want)
			}
		})
	}
}

func TestParseVary(t *testing.T) {
	p, err := ParseVary("input_len=128, 512,2048")
	if err != nil || p.GetName() != ParamInputLen || !cmp.Equal(p.GetValues(), []int64{128, 512, 2048}) {
		t.Errorf("ParseVary = %v, %v", p, err)
	}
	for _, s := range []string{"input_len", "=1,2", "batch=", "batch=1,x"} {
		if _, err := ParseVary(s); !errors.Is(err, ErrBadSpec) {
			t.Errorf("ParseVary(%q) = %v, want ErrBadSpec", s, err)
		}
	}
}

// TestValidateBodyBounds: a cell's body must fit a capture command, and the
// cells' bodies together are bounded.
func TestValidateBodyBounds(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
		want   string
	}{
		{"a cell over 2 MiB", []int64{1 << 20}, "a cell's body is"},
		{"cells over 32 MiB together", []int64{200_000, 200_001, 200_002, 200_003, 200_004, 200_005, 200_006, 200_007, 200_008, 200_009, 200_010, 200_011, 200_012, 200_013, 200_014, 200_015, 200_016, 200_017, 200_018, 200_019, 200_020, 200_021, 200_022, 200_023, 200_024, 200_025, 200_026, 200_027, 200_028, 200_029, 200_030, 200_031, 200_032, 200_033, 200_034, 200_035, 200_036, 200_037, 200_038, 200_039, 200_040, 200_041, 200_042, 200_043, 200_044, 200_045, 200_046, 200_047, 200_048, 200_049, 200_050, 200_051, 200_052, 200_053, 200_054, 200_055, 200_056, 200_057, 200_058, 200_059, 200_060, 200_061, 200_062, 200_063}, "add up to over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec(func(s *collectorv1.ExperimentSpec) {
				s.Vary = []*collectorv1.Parameter{{Name: ParamInputLen, Values: tt.values}}
			})
			if _, err := Validate(s); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want ErrBadSpec with %q", err, tt.want)
			}
		})
	}
}
