package simserver

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decodeJSON unmarshals a JSON body or fails.
func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

// wantError400 checks an OpenAI-style 400 body and its message.
func wantError400(msg string) func(*testing.T, string) {
	return func(t *testing.T, body string) {
		t.Helper()
		got := decodeJSON[map[string]any](t, body)
		want := map[string]any{"object": "error", "message": msg, "type": "BadRequestError", "param": nil, "code": 400.0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("400 body (-want +got):\n%s", diff)
		}
	}
}

func TestEndpoints(t *testing.T) {
	score := readInput(t, "score_request.json")
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		body               string
		wantCode           int
		wantType           string
		wantBody           *string
		check              func(*testing.T, string)
	}{
		{name: "health", method: "GET", path: "/health", wantCode: 200, wantBody: ptr("")},
		{name: "profile status idle", method: "GET", path: "/profile_status", wantCode: 200,
			wantType: "application/json", wantBody: ptr(`{"status":"idle"}`)},
		{name: "stop with nothing running", method: "POST", path: "/stop_profile", wantCode: 500,
			wantType: "text/plain; charset=utf-8", wantBody: ptr("Internal Server Error")},
		{name: "stop by GET with nothing running", method: "GET", path: "/stop_profile", wantCode: 500,
			wantBody: ptr("Internal Server Error")},
		{name: "start into a path under a file", method: "POST", path: "/start_profile",
			body: `{"output_dir":"` + notDir + `/sub"}`, wantCode: 500, wantBody: ptr("Internal Server Error")},
		{name: "start with bad JSON", method: "POST", path: "/start_profile", body: `{"num_steps":`, wantCode: 422},
		{name: "start with a wrong type", method: "POST", path: "/start_profile", body: `{"num_steps":"two"}`, wantCode: 422},
		{name: "model info", method: "GET", path: "/get_model_info", wantCode: 200, wantType: "application/json",
			check: func(t *testing.T, body string) {
				got := decodeJSON[map[string]any](t, body)
				want := map[string]any{"model_path": "Qwen/Qwen3-0.6B", "tokenizer_path": "Qwen/Qwen3-0.6B",
					"is_generation": true, "preferred_sampling_params": nil}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("model info (-want +got):\n%s", diff)
				}
			}},
		{name: "server info", method: "GET", path: "/get_server_info", wantCode: 200,
			check: func(t *testing.T, body string) {
				got := decodeJSON[map[string]any](t, body)
				for k, want := range map[string]any{"version": Version, "model_path": "Qwen/Qwen3-0.6B",
					"tp_size": 2.0, "device": "tpu", "host": "127.0.0.1", "port": 30000.0, "api_key": nil} {
					if !cmp.Equal(got[k], want) {
						t.Errorf("server info %q = %v, want %v", k, got[k], want)
					}
				}
				if st, ok := got["internal_states"].([]any); !ok || len(st) != 1 {
					t.Errorf("internal_states = %v, want a list of one", got["internal_states"])
				}
			}},
		{name: "score", method: "POST", path: "/v1/score", body: string(score), wantCode: 200,
			check: func(t *testing.T, body string) {
				got := decodeJSON[map[string]any](t, body)
				if got["object"] != "scoring" || got["model"] != "Qwen/Qwen3-0.6B" || got["usage"] != nil {
					t.Errorf("score = %s, want object scoring, the model and usage null", body)
				}
				if !strings.HasPrefix(body, `{"scores":[[`) {
					t.Errorf("score body %s does not start with scores", body)
				}
				sr := decodeJSON[ScoreResponse](t, body)
				if len(sr.Scores) != 2 {
					t.Fatalf("scores = %v, want 2 items", sr.Scores)
				}
				for i, s := range sr.Scores {
					if len(s) != 2 || math.Abs(s[0]+s[1]-1) > 1e-12 {
						t.Errorf("item %d scores %v: want 2 labels summing to 1 (apply_softmax)", i, s)
					}
				}
			}},
		{name: "score without softmax", method: "POST", path: "/v1/score",
			body: `{"model":"m","query":[1,2],"items":[[3],[4,5]],"label_token_ids":[7]}`, wantCode: 200,
			check: func(t *testing.T, body string) {
				sr := decodeJSON[ScoreResponse](t, body)
				if len(sr.Scores) != 2 || len(sr.Scores[0]) != 1 || sr.Scores[0][0] <= 0 || sr.Scores[0][0] >= 1 {
					t.Errorf("scores = %v, want 2 items of 1 probability", sr.Scores)
				}
				if sr.Model != "m" {
					t.Errorf("model = %q, want m", sr.Model)
				}
			}},
		{name: "score without label_token_ids", method: "POST", path: "/v1/score",
			body: `{"model":"m","query":"q","items":["a"]}`, wantCode: 400,
			check: wantError400("label_token_ids is required and must not be empty")},
		{name: "score without model", method: "POST", path: "/v1/score",
			body: `{"query":"q","items":["a"],"label_token_ids":[1]}`, wantCode: 400, check: wantError400("model is required")},
		{name: "score with a token outside the vocabulary", method: "POST", path: "/v1/score",
			body: `{"model":"m","query":[1],"items":[[151936]],"label_token_ids":[1]}`, wantCode: 400,
			check: wantError400("Token ID 151936 is out of vocabulary (vocab size: 151936)")},
		{name: "score with a label outside the vocabulary", method: "POST", path: "/v1/score",
			body: `{"model":"m","query":"q","items":"a","label_token_ids":[-1]}`, wantCode: 400,
			check: wantError400("Token ID -1 is out of vocabulary (vocab size: 151936)")},
		{name: "score mixing text and ids", method: "POST", path: "/v1/score",
			body: `{"model":"m","query":"q","items":[[1]],"label_token_ids":[1]}`, wantCode: 400,
			check: wantError400("query and items must both be text or both be token ids")},
		{name: "score by GET", method: "GET", path: "/v1/score", wantCode: 405},
		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404, wantBody: ptr(`{"detail":"Not Found"}`)},
		{name: "generate", method: "POST", path: "/generate",
			body: `{"text":"The capital of France is","sampling_params":{"max_new_tokens":3}}`, wantCode: 200,
			check: func(t *testing.T, body string) {
				g := decodeJSON[GenerateResponse](t, body)
				if len(g.OutputIDs) != 3 || g.MetaInfo.CompletionTokens != 3 || g.MetaInfo.PromptTokens != 5 ||
					g.MetaInfo.FinishReason == nil || *g.MetaInfo.FinishReason != (FinishReason{"length", 3}) ||
					len(strings.Fields(g.Text)) != 3 || len(g.MetaInfo.ID) != 32 || g.MetaInfo.E2ELatency <= 0 {
					t.Errorf("generate = %s, want 3 tokens of a 5-token prompt, finished by length", body)
				}
				if !strings.HasPrefix(body, `{"text":`) {
					t.Errorf("generate body %s does not start with text", body)
				}
			}},
		{name: "generate a batch of ids", method: "POST", path: "/generate",
			body: `{"input_ids":[[1,2],[3]],"sampling_params":{"max_new_tokens":1}}`, wantCode: 200,
			check: func(t *testing.T, body string) {
				g := decodeJSON[[]GenerateResponse](t, body)
				if len(g) != 2 || g[0].MetaInfo.PromptTokens != 2 || g[1].MetaInfo.PromptTokens != 1 {
					t.Errorf("generate batch = %s, want 2 answers", body)
				}
			}},
		{name: "generate stream", method: "POST", path: "/generate",
			body: `{"text":"hi","sampling_params":{"max_new_tokens":2},"stream":true}`, wantCode: 200,
			wantType: "text/event-stream",
			check: func(t *testing.T, body string) {
				chunks := strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n")
				if len(chunks) != 3 || chunks[2] != "data: [DONE]" {
					t.Fatalf("stream = %q, want 2 chunks and [DONE]", body)
				}
				for i, c := range chunks[:2] {
					g := decodeJSON[GenerateResponse](t, strings.TrimPrefix(c, "data: "))
					if len(g.OutputIDs) != i+1 || (i == 1) != (g.MetaInfo.FinishReason != nil) {
						t.Errorf("chunk %d = %s, want %d ids", i, c, i+1)
					}
				}
			}},
		{name: "generate with neither text nor ids", method: "POST", path: "/generate", body: `{}`, wantCode: 400,
			wantBody: ptr(`{"error":{"message":"Either text or input_ids should be provided."}}`)},
		{name: "generate with too many tokens", method: "POST", path: "/generate",
			body: `{"text":"x","sampling_params":{"max_new_tokens":100000}}`, wantCode: 400},
		{name: "health generate", method: "GET", path: "/health_generate", wantCode: 200, wantBody: ptr("")},
		{name: "metrics", method: "GET", path: "/metrics", wantCode: 200,
			check: func(t *testing.T, body string) {
				for _, m := range []string{"sglang:num_requests_total", "sglang:prompt_tokens_total",
					"sglang:generation_tokens_total", "sglang:num_running_reqs"} {
					if !strings.Contains(body, "# TYPE "+m) || !strings.Contains(body, m+`{model_name="Qwen/Qwen3-0.6B"}`) {
						t.Errorf("metrics lack %s:\n%s", m, body)
					}
				}
			}},
	}
	_, url := startServer(t, Config{Devices: 2})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			got := call(t, tt.method, url+tt.path, body, nil)
			if got.code != tt.wantCode {
				t.Fatalf("%s %s = %d %q, want %d", tt.method, tt.path, got.code, got.body, tt.wantCode)
			}
			if tt.wantType != "" && got.contentType != tt.wantType {
				t.Errorf("%s %s content type = %q, want %q", tt.method, tt.path, got.contentType, tt.wantType)
			}
			if tt.wantBody != nil && got.body != *tt.wantBody {
				t.Errorf("%s %s body = %q, want %q", tt.method, tt.path, got.body, *tt.wantBody)
			}
			if tt.check != nil {
				tt.check(t, got.body)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAPIKey(t *testing.T) {
	_, url := startServer(t, Config{APIKey: "sekrit"})
	unauthorized := `{"error":"Unauthorized"}`
	tests := []struct {
		name, method, path, auth string
		wantCode                 int
		wantBody                 *string
	}{
		{"health needs no key", "GET", "/health", "", 200, ptr("")},
		{"metrics need no key", "GET", "/metrics", "", 200, nil},
		{"model info without a key", "GET", "/get_model_info", "", 401, &unauthorized},
		{"model info with a wrong key", "GET", "/get_model_info", "Bearer nope", 401, &unauthorized},
		{"model info without Bearer", "GET", "/get_model_info", "sekrit", 401, &unauthorized},
		{"model info with the key", "GET", "/get_model_info", "Bearer sekrit", 200, nil},
		{"start profile without a key", "POST", "/start_profile", "", 401, &unauthorized},
		{"status without a key", "GET", "/profile_status", "", 401, &unauthorized},
		{"status with the key", "GET", "/profile_status", "Bearer sekrit", 200, ptr(`{"status":"idle"}`)},
		{"unknown path without a key", "GET", "/nope", "", 401, &unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			got := call(t, tt.method, url+tt.path, nil, h)
			if got.code != tt.wantCode {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, got.code, tt.wantCode)
			}
			if tt.wantBody != nil && got.body != *tt.wantBody {
				t.Errorf("%s %s body = %q, want %q", tt.method, tt.path, got.body, *tt.wantBody)
			}
		})
	}
	// The server info never shows the key.
	got := call(t, "GET", url+"/get_server_info", nil, map[string]string{"Authorization": "Bearer sekrit"})
	if strings.Contains(got.body, "sekrit") {
		t.Errorf("server info shows the API key: %s", got.body)
	}
}

func TestStartupDelay(t *testing.T) {
	_, url := startServer(t, Config{StartupDelay: 300 * time.Millisecond})
	if got := call(t, "GET", url+"/health", nil, nil); got.code != http.StatusServiceUnavailable {
		t.Errorf("health during startup = %d, want 503", got.code)
	}
	if got := call(t, "GET", url+"/get_model_info", nil, nil); got.code != http.StatusServiceUnavailable {
		t.Errorf("model info during startup = %d, want 503", got.code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if call(t, "GET", url+"/health", nil, nil).code == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("health never answered 200 after the startup delay")
}

func TestBadConfig(t *testing.T) {
	tests := []Config{
		{Port: -2},
		{Port: 70000},
		{Devices: -2},
		{DeviceTracer: "maybe"},
		{AutoStop: "later"},
		{CrashAfter: -1},
	}
	for _, cfg := range tests {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want ErrConfig", cfg)
		}
	}
}
