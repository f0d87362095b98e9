package simserver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// served is a Server running Serve on loopback listeners.
type served struct {
	s      *Server
	url    string
	client tensorflowpb.ProfilerServiceClient
	done   chan error
}

// serve runs a Server with HTTP and the profiler service on free loopback
// ports until the test ends.
func serve(t *testing.T, cfg Config) *served {
	t.Helper()
	s := newServer(t, cfg)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, hl, gl) }()
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return &served{s: s, url: "http://" + hl.Addr().String(), client: tensorflowpb.NewProfilerServiceClient(conn), done: done}
}

// scoreDuring sends n score requests once a profile session runs (as soon
// as the Profile call reaches the server, however loaded the machine), and
// waits for them.
func scoreDuring(t *testing.T, sv *served, n int) func() {
	t.Helper()
	body := readInput(t, "score_request.json")
	var wg sync.WaitGroup
	wg.Go(func() {
		for deadline := time.Now().Add(10 * time.Second); !sv.sessionRunning(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("no profile session began within 10 s")
				return
			}
		}
		for range n {
			mustCall(t, "POST", sv.url+"/v1/score", body, 200)
		}
	})
	return wg.Wait
}

// sessionRunning reports whether a profile session (HTTP or gRPC) runs.
func (sv *served) sessionRunning() bool {
	sv.s.mu.Lock()
	defer sv.s.mu.Unlock()
	return sv.s.sess != nil
}

func TestProfilerService(t *testing.T) {
	python := &tensorflowpb.ProfileOptions{Version: 1, HostTracerLevel: 2, DeviceTracerLevel: 1, PythonTracerLevel: 1, DurationMs: 400}
	tests := []struct {
		name       string
		opts       *tensorflowpb.ProfileOptions
		emit       bool
		wantPython int
	}{
		{"inline xspace", python, true, 1},
		{"file in the repository", python, false, 1},
		// Version 0: every level is ignored for the defaults (python 0).
		{"version 0 ignores levels", &tensorflowpb.ProfileOptions{PythonTracerLevel: 1, DurationMs: 400}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sv := serve(t, Config{Hostname: "sim:host"})
			repo := t.TempDir()
			wait := scoreDuring(t, sv, 2)
			resp, err := sv.client.Profile(t.Context(), &tensorflowpb.ProfileRequest{
				DurationMs: 1, // ignored: the server waits on opts.duration_ms
				Opts:       tt.opts, EmitXspace: tt.emit,
				RepositoryRoot: repo, SessionId: "session-1", HostName: "tpu:vm",
			})
			wait()
			if err != nil {
				t.Fatal(err)
			}
			p := sv.s.LastProfile()
			if p == nil || len(p.Steps) != 2 || p.PythonLevel != tt.wantPython {
				t.Fatalf("truth = %+v, want 2 steps, python level %d", p, tt.wantPython)
			}
			if p.Span.Len() < 400*capture.Millisecond {
				t.Errorf("profile lasted %d ps, want at least opts.duration_ms (400 ms)", p.Span.Len())
			}
			if resp.GetEmptyTrace() {
				t.Error("empty_trace set on a trace with events")
			}
			path := filepath.Join(repo, "session-1", "tpu_vm.xplane.pb")
			if tt.emit {
				space := resp.GetXspace()
				if space == nil {
					t.Fatal("no inline XSpace with emit_xspace")
				}
				var ops, events int64
				for _, pl := range space.GetPlanes() {
					for _, l := range pl.GetLines() {
						events += int64(len(l.GetEvents()))
						if capture.IsDevicePlane(pl.GetName()) && capture.IsOpLine(l.GetName()) {
							ops += int64(len(l.GetEvents()))
						}
					}
				}
				if ops != p.DeviceOpEvents() || ops != 2*seedStepOps || events != p.EventsTotal {
					t.Errorf("inline XSpace: %d op events, %d events; want %d and %d", ops, events, 2*seedStepOps, p.EventsTotal)
				}
				if ents, _ := os.ReadDir(repo); len(ents) != 0 {
					t.Errorf("emit_xspace wrote %d entries into the repository, want none", len(ents))
				}
				return
			}
			if resp.GetXspace() != nil {
				t.Error("inline XSpace without emit_xspace")
			}
			ents, err := os.ReadDir(filepath.Dir(path))
			if err != nil || len(ents) != 1 || ents[0].Name() != filepath.Base(path) {
				t.Fatalf("repository session folder = %v (%v), want only %s", ents, err, filepath.Base(path))
			}
			c, err := load.File(t.Context(), path, load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			checkCapture(t, c, p)
		})
	}
}

func TestProfilerServiceErrors(t *testing.T) {
	sv := serve(t, Config{})
	ctx := t.Context()
	_, err := sv.client.Monitor(ctx, &tensorflowpb.MonitorRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Monitor = %v, want UNIMPLEMENTED", err)
	}
	_, err = sv.client.Profile(ctx, &tensorflowpb.ProfileRequest{Opts: &tensorflowpb.ProfileOptions{DurationMs: 10}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Profile with no repository_root = %v, want INVALID_ARGUMENT", err)
	}

	// /start_profile holds the one profiler session.
	out := t.TempDir()
	mustCall(t, "POST", sv.url+"/start_profile", []byte(`{"output_dir":"`+out+`"}`), 200)
	_, err = sv.client.Profile(ctx, &tensorflowpb.ProfileRequest{EmitXspace: true, Opts: &tensorflowpb.ProfileOptions{DurationMs: 10}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Profile during /start_profile = %v, want FAILED_PRECONDITION", err)
	}
	mustCall(t, "POST", sv.url+"/stop_profile", nil, 200)

	// And the profiler service holds it against /start_profile; Terminate
	// ends it early.
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := sv.client.Profile(ctx, &tensorflowpb.ProfileRequest{EmitXspace: true, SessionId: "long",
			Opts: &tensorflowpb.ProfileOptions{DurationMs: 60_000}})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !sv.s.sessionRunning() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mustCall(t, "POST", sv.url+"/start_profile", []byte(`{"output_dir":"`+out+`"}`), 500)
	if got := mustCall(t, "GET", sv.url+"/profile_status", nil, 200); got.body != `{"status":"idle"}` {
		t.Errorf("/profile_status during a profiler service session = %s, want idle", got.body)
	}
	mustCall(t, "POST", sv.url+"/stop_profile", nil, 500)
	if _, err := sv.client.Terminate(ctx, &tensorflowpb.TerminateRequest{SessionId: "long"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("terminated Profile = %v, want success", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("terminated Profile took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Terminate did not end the profile")
	}
	resp, err := sv.client.Profile(ctx, &tensorflowpb.ProfileRequest{EmitXspace: true,
		Opts: &tensorflowpb.ProfileOptions{Version: 1, DurationMs: 10}})
	if err != nil || !resp.GetEmptyTrace() {
		t.Errorf("Profile with every tracer off = %v, %v; want an empty trace", resp, err)
	}
}

func TestCrashAfter(t *testing.T) {
	sv := serve(t, Config{CrashAfter: 2})
	mustCall(t, "GET", sv.url+"/health", nil, 200) // not counted
	mustCall(t, "GET", sv.url+"/get_model_info", nil, 200)
	select {
	case err := <-sv.done:
		t.Fatalf("Serve returned %v after 1 request", err)
	case <-time.After(50 * time.Millisecond):
	}
	mustCall(t, "POST", sv.url+"/v1/score", readInput(t, "score_request.json"), 200)
	select {
	case err := <-sv.done:
		if !errors.Is(err, ErrCrashed) {
			t.Errorf("Serve = %v, want ErrCrashed", err)
		}
		sv.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not crash after 2 requests")
	}
}
