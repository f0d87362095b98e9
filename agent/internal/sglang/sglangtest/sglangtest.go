// Package sglangtest is a hand-written fake of the sglang-jax HTTP server
// for tests: the health, info, profiler and score endpoints with the real
// server's answers and its message-less HTTP 500s. On stop it writes a run
// folder holding the XSpace it was given.
package sglangtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// XPlane is written as <host>.xplane.pb when a profile stops.
	XPlane []byte
	// Host is the host name in file names. Empty means "sim-host".
	Host string
	// APIKey, if set, is required on every path but /health.
	APIKey string
	// ModelPath is reported by /get_model_info. Empty means "Qwen/Qwen3-0.6B".
	ModelPath string
	// ScoreDelay is how long /v1/score takes.
	ScoreDelay time.Duration
}

// Server is a fake sglang-jax server on loopback.
type Server struct {
	*httptest.Server
	opts Options

	mu        sync.Mutex
	profiling bool
	outDir    string
	runName   string
	stepsLeft int64
	bodies    []map[string]any
	counts    map[string]int
}

// New starts a fake server; Close it when done.
func New(opts Options) *Server {
	if opts.Host == "" {
		opts.Host = "sim-host"
	}
	if opts.ModelPath == "" {
		opts.ModelPath = "Qwen/Qwen3-0.6B"
	}
	s := &Server{opts: opts, counts: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Count returns how many requests reached path.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// StartBodies returns the bodies /start_profile received.
func (s *Server) StartBodies() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

// SetProfiling forces the profiling state (as if another client started one).
func (s *Server) SetProfiling(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiling = on
}

func fail500(w http.ResponseWriter) {
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts[r.URL.Path]++
	s.mu.Unlock()
	if s.opts.APIKey != "" && !strings.HasPrefix(r.URL.Path, "/health") &&
		r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"Unauthorized"}`)
		return
	}
	switch r.URL.Path {
	case "/health":
	case "/get_model_info":
		writeJSON(w, map[string]any{"model_path": s.opts.ModelPath, "tokenizer_path": s.opts.ModelPath,
			"is_generation": true, "preferred_sampling_params": nil})
	case "/get_server_info":
		writeJSON(w, map[string]any{"model_path": s.opts.ModelPath, "tp_size": 1, "port": 30000,
			"device": "tpu", "version": "0.0.2-sim", "internal_states": []any{map[string]any{}}})
	case "/profile_status":
		s.mu.Lock()
		st := "idle"
		if s.profiling {
			st = "in_progress"
		}
		s.mu.Unlock()
		writeJSON(w, map[string]any{"status": st})
	case "/start_profile":
		s.start(w, r)
	case "/stop_profile":
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.profiling {
			fail500(w)
			return
		}
		if err := s.writeRunLocked(); err != nil {
			fail500(w)
			return
		}
		io.WriteString(w, "Stop profiling. This will take some time.\n")
	case "/v1/score":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["label_token_ids"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]any{"object": "error", "message": "label_token_ids is required",
				"type": "BadRequestError", "param": nil, "code": 400})
			return
		}
		time.Sleep(s.opts.ScoreDelay)
		s.step()
		writeJSON(w, map[string]any{"scores": [][]float64{{0.9, 0.1}, {0.2, 0.8}}, "model": s.opts.ModelPath,
			"usage": nil, "object": "scoring"})
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail500(w)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, body)
	if s.profiling {
		fail500(w)
		return
	}
	dir, _ := body["output_dir"].(string)
	if dir == "" {
		dir = os.TempDir()
	}
	probe := filepath.Join(dir, ".sim-probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail500(w)
		return
	}
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		fail500(w)
		return
	}
	os.Remove(probe)
	s.profiling = true
	s.outDir = dir
	s.runName = time.Now().Format("2006_01_02_15_04_05")
	s.stepsLeft = 0
	if n, ok := body["num_steps"].(float64); ok && n > 0 {
		s.stepsLeft = int64(n)
	}
	io.WriteString(w, "Start profiling.\n")
}

// step counts one forward step, stopping a num_steps profile at its end.
func (s *Server) step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.profiling || s.stepsLeft == 0 {
		return
	}
	s.stepsLeft--
	if s.stepsLeft == 0 {
		_ = s.writeRunLocked()
	}
}

func (s *Server) writeRunLocked() error {
	s.profiling = false
	run := filepath.Join(s.outDir, "plugins", "profile", s.runName)
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	host := strings.ReplaceAll(s.opts.Host, ":", "_")
	return os.WriteFile(filepath.Join(run, host+".xplane.pb"), s.opts.XPlane, 0o644)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
