package backend

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/agent/internal/sglang"
	"github.com/fleetprof/fleetprof/agent/internal/sglang/sglangtest"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"
)

func ptr(v int32) *int32 { return &v }

func tinyXPlane(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "tiny", "tiny-host.xplane.pb"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newClient(t *testing.T, url, key string) *sglang.Client {
	t.Helper()
	c, err := sglang.New(url, sglang.Options{APIKey: key, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHTTPCapture(t *testing.T) {
	xp := tinyXPlane(t)
	tests := []struct {
		name     string
		req      Request
		workload int
	}{
		{"duration", Request{Duration: 150 * time.Millisecond}, 0},
		{"duration+workload", Request{Duration: 50 * time.Millisecond, DeviceTracerLevel: ptr(1)}, 3},
		{"num_steps", Request{NumSteps: 2, Duration: 5 * time.Second}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sglangtest.New(sglangtest.Options{XPlane: xp, Host: "t1v:w-0", APIKey: "k"})
			defer srv.Close()
			c := newClient(t, srv.URL, "k")
			b := NewHTTP(c, HTTPOptions{Poll: 10 * time.Millisecond, FolderWait: time.Second})
			req := tt.req
			req.ID = "c1"
			req.Dir = filepath.Join(t.TempDir(), "raw", "c1")
			if tt.workload > 0 {
				req.During = func(ctx context.Context) error {
					for range tt.workload {
						if code, err := c.Do(ctx, http.MethodPost, "/v1/score", []byte(`{"label_token_ids":[1]}`)); err != nil || code != 200 {
							return errors.New("score failed")
						}
					}
					return nil
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			res, err := b.Capture(ctx, req)
			if err != nil {
				t.Fatalf("Capture = %v", err)
			}
			if tt.req.NumSteps == 0 && time.Since(start) < tt.req.Duration {
				t.Errorf("Capture took %v, want >= %v", time.Since(start), tt.req.Duration)
			}
			if len(res.Files) != 1 || filepath.Base(res.Files[0]) != "t1v_w-0.xplane.pb" {
				t.Errorf("Files = %q, want [t1v_w-0.xplane.pb]", res.Files)
			}
			if res.RawBytes != int64(len(xp)) {
				t.Errorf("RawBytes = %d, want %d", res.RawBytes, len(xp))
			}
			if got := filepath.Dir(filepath.Dir(res.RunDir)); got != filepath.Join(req.Dir, "plugins") {
				t.Errorf("RunDir = %s, want under %s/plugins/profile", res.RunDir, req.Dir)
			}
			if n := srv.Count("/stop_profile"); (tt.req.NumSteps > 0) != (n == 0) {
				t.Errorf("/stop_profile called %d times with num_steps=%d", n, tt.req.NumSteps)
			}
			body := srv.StartBodies()[0]
			if body["output_dir"] != req.Dir {
				t.Errorf("start body output_dir = %v, want %s", body["output_dir"], req.Dir)
			}
			if tt.req.DeviceTracerLevel != nil && body["device_tracer_level"] != float64(1) {
				t.Errorf("start body = %v, want device_tracer_level 1", body)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	xp := tinyXPlane(t)
	t.Run("already profiling", func(t *testing.T) {
		srv := sglangtest.New(sglangtest.Options{XPlane: xp})
		defer srv.Close()
		srv.SetProfiling(true)
		_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{}).Capture(t.Context(), Request{Dir: t.TempDir()})
		if !errors.Is(err, ErrAlreadyProfiling) {
			t.Errorf("Capture = %v, want ErrAlreadyProfiling", err)
		}
		if srv.Count("/start_profile") != 0 {
			t.Errorf("start_profile was called on a busy server")
		}
	})
	t.Run("dir not writable", func(t *testing.T) {
		srv := sglangtest.New(sglangtest.Options{XPlane: xp})
		defer srv.Close()
		file := filepath.Join(t.TempDir(), "file")
		os.WriteFile(file, nil, 0o644)
		_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{}).Capture(t.Context(), Request{Dir: filepath.Join(file, "raw")})
		if !errors.Is(err, ErrDirNotWritable) {
			t.Errorf("Capture = %v, want ErrDirNotWritable", err)
		}
	})
	t.Run("nothing to stop", func(t *testing.T) {
		srv := sglangtest.New(sglangtest.Options{XPlane: xp})
		defer srv.Close()
		req := Request{Dir: t.TempDir(), During: func(context.Context) error { srv.SetProfiling(false); return nil }}
		_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{}).Capture(t.Context(), req)
		if !errors.Is(err, ErrNothingToStop) {
			t.Errorf("Capture = %v, want ErrNothingToStop", err)
		}
	})
	t.Run("unauthorized", func(t *testing.T) {
		srv := sglangtest.New(sglangtest.Options{XPlane: xp, APIKey: "secret"})
		defer srv.Close()
		_, err := NewHTTP(newClient(t, srv.URL, "wrong"), HTTPOptions{}).Capture(t.Context(), Request{Dir: t.TempDir()})
		if !errors.Is(err, sglang.ErrUnauthorized) {
			t.Errorf("Capture = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("steps never come", func(t *testing.T) {
		srv := sglangtest.New(sglangtest.Options{XPlane: xp})
		defer srv.Close()
		_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{Poll: 10 * time.Millisecond}).
			Capture(t.Context(), Request{Dir: t.TempDir(), NumSteps: 3, Duration: 100 * time.Millisecond})
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("Capture = %v, want ErrTimeout", err)
		}
		if srv.Count("/stop_profile") != 1 {
			t.Errorf("/stop_profile called %d times, want 1 (never leave the profiler running)", srv.Count("/stop_profile"))
		}
	})
	// Hand-made servers for the races the fake cannot stage.
	tests := []struct {
		name     string
		statuses []string // answers of /profile_status in order (last repeats)
		start    int
		want     error
	}{
		{"start 500 while idle", []string{"idle"}, 500, ErrStartFailed},
		{"start 500 race", []string{"idle", "in_progress"}, 500, ErrAlreadyProfiling},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/profile_status":
					i := min(int(n.Add(1))-1, len(tt.statuses)-1)
					w.Write([]byte(`{"status":"` + tt.statuses[i] + `"}`))
				case "/start_profile":
					http.Error(w, "Internal Server Error", tt.start)
				}
			}))
			defer srv.Close()
			_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{}).Capture(t.Context(), Request{Dir: t.TempDir()})
			if !errors.Is(err, tt.want) {
				t.Errorf("Capture = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("no run folder", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/profile_status" {
				w.Write([]byte(`{"status":"idle"}`))
			}
		}))
		defer srv.Close()
		_, err := NewHTTP(newClient(t, srv.URL, ""), HTTPOptions{FolderWait: 50 * time.Millisecond}).
			Capture(t.Context(), Request{Dir: t.TempDir(), Duration: time.Millisecond})
		if !errors.Is(err, ErrNoRunFolder) {
			t.Errorf("Capture = %v, want ErrNoRunFolder", err)
		}
	})
}

// fakeProfiler is a hand-written tensorflow.ProfilerService.
type fakeProfiler struct {
	tensorflowpb.UnimplementedProfilerServiceServer
	xspace []byte
	inline bool
	err    error
	got    chan *tensorflowpb.ProfileRequest
}

func (f *fakeProfiler) Profile(ctx context.Context, req *tensorflowpb.ProfileRequest) (*tensorflowpb.ProfileResponse, error) {
	f.got <- req
	if f.err != nil {
		return nil, f.err
	}
	select {
	case <-time.After(time.Duration(req.GetOpts().GetDurationMs()) * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.xspace == nil {
		return &tensorflowpb.ProfileResponse{EmptyTrace: true}, nil
	}
	if f.inline {
		xs := &xplanev1.XSpace{}
		if err := proto.Unmarshal(f.xspace, xs); err != nil {
			return nil, err
		}
		return &tensorflowpb.ProfileResponse{Xspace: xs}, nil
	}
	dir := filepath.Join(req.GetRepositoryRoot(), req.GetSessionId())
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, HostFileName(req.GetHostName())+".xplane.pb"), f.xspace, 0o644)
	return &tensorflowpb.ProfileResponse{}, nil
}

func startProfiler(t *testing.T, f *fakeProfiler) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	tensorflowpb.RegisterProfilerServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestGRPCCapture(t *testing.T) {
	xp := tinyXPlane(t)
	tests := []struct {
		name    string
		f       *fakeProfiler
		want    error
		wantRaw bool
		empty   bool
	}{
		{"inline", &fakeProfiler{xspace: xp, inline: true}, nil, true, false},
		{"file fallback", &fakeProfiler{xspace: xp}, nil, true, false},
		{"empty trace", &fakeProfiler{}, nil, false, true},
		{"busy", &fakeProfiler{err: status.Error(codes.FailedPrecondition, "Another profiling session active.")}, ErrAlreadyProfiling, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.got = make(chan *tensorflowpb.ProfileRequest, 1)
			addr := startProfiler(t, tt.f)
			g, err := NewGRPC(addr, GRPCOptions{HostName: "h:1"})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var during atomic.Bool
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			res, err := g.Capture(ctx, Request{ID: "cap-1", Dir: t.TempDir(), Duration: 100 * time.Millisecond,
				DeviceTracerLevel: ptr(2), During: func(context.Context) error { during.Store(true); return nil }})
			req := <-tt.f.got
			if req.GetOpts().GetVersion() != 1 || req.GetDurationMs() != 100 || req.GetOpts().GetDurationMs() != 100 ||
				!req.GetEmitXspace() || req.GetOpts().GetDeviceTracerLevel() != 2 || req.GetSessionId() != "cap-1" {
				t.Errorf("request = %v, want version 1, duration 100 in both places, emit_xspace, device level 2", req)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Capture = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if !during.Load() {
				t.Error("During did not run")
			}
			if res.EmptyTrace != tt.empty {
				t.Errorf("EmptyTrace = %v, want %v", res.EmptyTrace, tt.empty)
			}
			if tt.wantRaw {
				if len(res.Files) != 1 || filepath.Base(res.Files[0]) != "h_1.xplane.pb" || res.RawBytes != int64(len(xp)) {
					t.Errorf("Files = %q (%d bytes), want h_1.xplane.pb of %d bytes", res.Files, res.RawBytes, len(xp))
				}
			}
		})
	}
}

func TestGRPCNotLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:8466", "example.com:8466", "8466", "[::1]:8466", "localhost:1", "127.0.0.2:1"} {
		_, err := NewGRPC(addr, GRPCOptions{})
		loop := addr == "[::1]:8466" || addr == "localhost:1" || addr == "127.0.0.2:1"
		if loop != (err == nil) {
			t.Errorf("NewGRPC(%q) = %v, want loopback=%v", addr, err, loop)
		}
		if !loop && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("NewGRPC(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
}

func TestGRPCUnavailable(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	g, err := NewGRPC(addr, GRPCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := g.Capture(ctx, Request{Dir: t.TempDir(), Duration: time.Millisecond}); err == nil {
		t.Error("Capture against a closed port = nil error")
	}
}
