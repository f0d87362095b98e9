package simserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// Plain-text answers of the profile endpoints, exactly as sglang-jax sends them.
const (
	StartProfileText = "Start profiling.\n"
	StopProfileText  = "Stop profiling. This will take some time.\n"
	// InternalErrorText is the whole body of every HTTP 500: the reason is lost.
	InternalErrorText = "Internal Server Error"
)

// maxBody bounds a request body.
const maxBody = 16 << 20

// route is one path's methods and handler.
type route struct {
	methods []string
	h       http.HandlerFunc
}

// Handler returns the server's HTTP API.
func (s *Server) Handler() http.Handler {
	routes := map[string]route{
		"/health":          {[]string{"GET"}, s.health},
		"/health_generate": {[]string{"GET"}, s.healthGenerate},
		"/get_model_info":  {[]string{"GET"}, s.modelInfo},
		"/get_server_info": {[]string{"GET"}, s.serverInfo},
		"/start_profile":   {[]string{"GET", "POST"}, s.startProfile},
		"/stop_profile":    {[]string{"GET", "POST"}, s.stopProfile},
		"/profile_status":  {[]string{"GET"}, s.profileStatus},
		"/v1/score":        {[]string{"POST"}, s.score},
		"/generate":        {[]string{"POST"}, s.generate},
		"/metrics":         {[]string{"GET"}, s.metrics},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		open := strings.HasPrefix(path, "/health") || strings.HasPrefix(path, "/metrics")
		if !open {
			defer s.countRequest()
		}
		if s.cfg.APIKey != "" && !open && r.Method != http.MethodOptions &&
			r.Header.Get("Authorization") != "Bearer "+s.cfg.APIKey {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
			return
		}
		rt, ok := routes[path]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
			return
		}
		if !slices.Contains(rt.methods, r.Method) && !(r.Method == http.MethodHead && slices.Contains(rt.methods, "GET")) {
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
			return
		}
		if !s.ready() && path != "/metrics" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		s.stats.requests.Add(1)
		rt.h(w, r)
	})
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		internalError(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// writeText writes a plain-text answer.
func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, text)
}

// internalError answers as the real server does on any exception: HTTP 500
// with the reason lost.
func internalError(w http.ResponseWriter) {
	writeText(w, http.StatusInternalServerError, InternalErrorText)
}

// validationError answers a body that is not the expected JSON as FastAPI
// does.
func validationError(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"detail": []map[string]any{{"type": "json_invalid", "loc": []any{"body"}, "msg": msg}},
	})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
}

func (s *Server) healthGenerate(w http.ResponseWriter, r *http.Request) {
	s.forward(prefill, seqShape(1))
	w.WriteHeader(http.StatusOK)
}

// profileBody is /start_profile's JSON body; every field is optional and
// unknown keys are ignored.
type profileBody struct {
	OutputDir         *string `json:"output_dir"`
	StartStep         *int64  `json:"start_step"`
	NumSteps          *int    `json:"num_steps"`
	HostTracerLevel   *int    `json:"host_tracer_level"`
	PythonTracerLevel *int    `json:"python_tracer_level"`
	DeviceTracerLevel *int    `json:"device_tracer_level"`
	ProfileByStage    *bool   `json:"profile_by_stage"`
}

func (s *Server) startProfile(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		internalError(w)
		return
	}
	var pb profileBody
	if len(strings.TrimSpace(string(body))) > 0 && strings.TrimSpace(string(body)) != "null" {
		if err := json.Unmarshal(body, &pb); err != nil {
			validationError(w, "JSON decode error: "+err.Error())
			return
		}
	}
	o := startOptions{outputDir: os.Getenv("SGLANG_JAX_PROFILER_DIR"), levels: defaultLevels, startStep: pb.StartStep}
	if o.outputDir == "" {
		o.outputDir = os.TempDir()
	}
	if pb.OutputDir != nil && *pb.OutputDir != "" {
		o.outputDir = *pb.OutputDir
	}
	if pb.NumSteps != nil && *pb.NumSteps > 0 {
		o.numSteps = *pb.NumSteps
	}
	// sglang-jax sets a level only when it is truthy: 0 keeps the default.
	if pb.HostTracerLevel != nil && *pb.HostTracerLevel != 0 {
		o.levels.host = *pb.HostTracerLevel
	}
	if pb.PythonTracerLevel != nil && *pb.PythonTracerLevel != 0 {
		o.levels.python = *pb.PythonTracerLevel
	}
	if pb.DeviceTracerLevel != nil {
		o.levels.device = *pb.DeviceTracerLevel
	}
	if s.cfg.DeviceTracer == DeviceTracerIgnored {
		o.levels.device = 0
	}
	if err := s.startHTTP(o); err != nil {
		s.log.Error("start_profile", "output_dir", o.outputDir, "err", err)
		internalError(w)
		return
	}
	s.log.Info("profiling started", "output_dir", o.outputDir, "num_steps", o.numSteps,
		"host_tracer_level", o.levels.host, "python_tracer_level", o.levels.python,
		"device_tracer_level", o.levels.device)
	writeText(w, http.StatusOK, StartProfileText)
}

func (s *Server) stopProfile(w http.ResponseWriter, r *http.Request) {
	if err := s.stopHTTP(); err != nil {
		if errors.Is(err, ErrNotProfiling) {
			s.log.Error("stop_profile", "err", err)
		} else {
			s.log.Error("stop_profile: write the profile", "err", err)
		}
		internalError(w)
		return
	}
	if p := s.LastProfile(); p != nil {
		s.log.Info("profiling stopped", "dir", p.Dir, "steps", len(p.Steps), "events", p.EventsTotal)
	}
	writeText(w, http.StatusOK, StopProfileText)
}

func (s *Server) profileStatus(w http.ResponseWriter, r *http.Request) {
	status := "idle"
	if s.profiling() {
		status = "in_progress"
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}
