package sglang

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:30000", "ftp://h", "http://", "://x"} {
		if _, err := New(u, Options{}); !errors.Is(err, ErrBadURL) {
			t.Errorf("New(%q) = %v, want ErrBadURL", u, err)
		}
	}
	c, err := New("http://127.0.0.1:30000/", Options{APIKey: "k"})
	if err != nil || c.URL() != "http://127.0.0.1:30000" || c.APIKey() != "k" {
		t.Errorf("New = %v, %v", c, err)
	}
}

func TestCalls(t *testing.T) {
	var gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/health":
		case "/get_server_info":
			w.Write([]byte(`{"version":"0.0.2","tp_size":4}`))
		case "/get_model_info":
			w.Write([]byte(`not json`))
		case "/profile_status":
			w.Write([]byte(`{"status":"in_progress"}`))
		case "/start_profile":
			b := make([]byte, 512)
			n, _ := r.Body.Read(b)
			gotBody = string(b[:n])
			w.Write([]byte("Start profiling.\n"))
		case "/stop_profile":
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		case "/secret":
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL, Options{APIKey: "k", Timeout: 2 * time.Second})
	ctx := t.Context()
	if err := c.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	if gotAuth != "Bearer k" {
		t.Errorf("Authorization = %q, want Bearer k", gotAuth)
	}
	info, err := c.ServerInfo(ctx)
	if err != nil || info["version"] != "0.0.2" || info["tp_size"] != float64(4) {
		t.Errorf("ServerInfo = %v, %v", info, err)
	}
	if _, err := c.ModelInfo(ctx); err == nil {
		t.Error("ModelInfo(not json) = nil error")
	}
	if st, err := c.ProfileStatus(ctx); st != "in_progress" || err != nil {
		t.Errorf("ProfileStatus = %q, %v", st, err)
	}
	lvl := int32(1)
	if err := c.StartProfile(ctx, StartRequest{OutputDir: "/tmp/x", NumSteps: 2, DeviceTracerLevel: &lvl}); err != nil {
		t.Errorf("StartProfile = %v", err)
	}
	if gotBody != `{"output_dir":"/tmp/x","num_steps":2,"device_tracer_level":1}` {
		t.Errorf("start body = %s", gotBody)
	}
	var se *StatusError
	if err := c.StopProfile(ctx); !errors.As(err, &se) || se.Code != 500 || se.Path != "/stop_profile" {
		t.Errorf("StopProfile = %v, want a 500 StatusError", err)
	}
	if code, err := c.Do(ctx, http.MethodGet, "/secret", nil); code != 401 || err != nil {
		t.Errorf("Do = %d, %v", code, err)
	}
	if _, err := c.do(ctx, http.MethodGet, "/secret", nil, 0); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("do(401) = %v, want ErrUnauthorized", err)
	}
}

func TestWaitHealthy(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx, 10*time.Millisecond); err != nil || calls != 3 {
		t.Errorf("WaitHealthy = %v after %d calls, want nil after 3", err, calls)
	}
	srv.Close()
	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	if err := c.WaitHealthy(ctx2, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnhealthy) {
		t.Errorf("WaitHealthy(down) = %v, want DeadlineExceeded and ErrUnhealthy", err)
	}
}
