package simserver

import (
	"fmt"
	"net/http"
	"strings"
)

// Version is the sglang-jax version the server reports.
const Version = "0.0.2-sim"

// VocabSize is Qwen3's vocabulary size: token ids must be below it.
const VocabSize = 151936

func (s *Server) modelInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"model_path":                s.cfg.ModelPath,
		"tokenizer_path":            s.cfg.ModelPath,
		"is_generation":             true,
		"preferred_sampling_params": nil,
	})
}

// serverInfo answers with every server argument, the scheduler's info, the
// internal states and the version, as /get_server_info does.
func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	var apiKey any
	if s.cfg.APIKey != "" {
		apiKey = "<redacted>"
	}
	info := map[string]any{
		// Server arguments.
		"model_path":                s.cfg.ModelPath,
		"tokenizer_path":            s.cfg.ModelPath,
		"tokenizer_mode":            "auto",
		"skip_tokenizer_init":       false,
		"load_format":               "auto",
		"trust_remote_code":         false,
		"dtype":                     "bfloat16",
		"kv_cache_dtype":            "auto",
		"context_length":            nil,
		"device":                    "tpu",
		"served_model_name":         s.cfg.ModelPath,
		"is_embedding":              false,
		"revision":                  nil,
		"host":                      s.cfg.Host,
		"port":                      s.cfg.Port,
		"api_key":                   apiKey,
		"mem_fraction_static":       0.8,
		"max_running_requests":      256,
		"max_total_tokens":          nil,
		"chunked_prefill_size":      4096,
		"max_prefill_tokens":        16384,
		"schedule_policy":           "fcfs",
		"schedule_conservativeness": 1.0,
		"page_size":                 128,
		"tp_size":                   s.cfg.Devices,
		"dp_size":                   1,
		"stream_interval":           1,
		"random_seed":               s.cfg.Seed,
		"attention_backend":         "fa",
		"log_level":                 "info",
		"enable_metrics":            true,
		"skip_server_warmup":        false,
		"disable_radix_cache":       false,
		"precompile_token_paddings": []int{},
		"precompile_bs_paddings":    []int{},
		// Scheduler info.
		"max_total_num_tokens": 262144,
		"max_req_input_len":    40954,
		// State.
		"internal_states": []map[string]any{{
			"last_gen_throughput": 0.0,
			"memory_usage":        map[string]any{"weight": 1.12, "kvcache": 14.0},
		}},
		"version": Version,
	}
	writeJSON(w, http.StatusOK, info)
}

// metrics answers a few Prometheus lines.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	label := fmt.Sprintf(`{model_name=%q}`, s.cfg.ModelPath)
	line := func(name, typ, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s%s %d\n", name, help, name, typ, name, label, v)
	}
	line("sglang:num_requests_total", "counter", "Number of requests served.", s.stats.requests.Load())
	line("sglang:prompt_tokens_total", "counter", "Number of prefill tokens processed.", s.stats.promptTokens.Load())
	line("sglang:generation_tokens_total", "counter", "Number of generation tokens processed.", s.stats.genTokens.Load())
	line("sglang:forward_steps_total", "counter", "Number of forward steps run.", s.stats.steps.Load())
	line("sglang:num_running_reqs", "gauge", "The number of running requests.", s.stats.running.Load())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}
