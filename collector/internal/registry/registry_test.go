package registry

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// controlServer serves Control with a Registry and reports each stream's end.
type controlServer struct {
	agentv1.UnimplementedAgentServiceServer
	reg  *Registry
	ends chan error
}

func (s *controlServer) Control(stream agentv1.AgentService_ControlServer) error {
	err := s.reg.Serve(stream)
	s.ends <- err
	return err
}

type observed struct {
	kind, agent string
	state       agentv1.CaptureState
}

// recorder is an Observer that records what it hears.
type recorder struct{ ch chan observed }

func (r *recorder) Connected(id string, _ *agentv1.Register) {
	r.ch <- observed{kind: "connected", agent: id}
}
func (r *recorder) Progress(id string, p *agentv1.CaptureProgress) {
	r.ch <- observed{kind: "progress", agent: id, state: p.GetState()}
}
func (r *recorder) Disconnected(id string) { r.ch <- observed{kind: "disconnected", agent: id} }

type env struct {
	reg *Registry
	srv *controlServer
	cc  *grpc.ClientConn
	obs *recorder
	db  *store.DB
}

func start(t *testing.T, cfg Config) *env {
	t.Helper()
	db := storetest.Open(t)
	cfg.Store = db
	reg := New(cfg)
	obs := &recorder{ch: make(chan observed, 64)}
	reg.SetObserver(obs)
	cs := &controlServer{reg: reg, ends: make(chan error, 16)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	agentv1.RegisterAgentServiceServer(gs, cs)
	go gs.Serve(lis)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{reg: reg, srv: cs, cc: cc, obs: obs, db: db}
	t.Cleanup(func() {
		cc.Close()
		reg.Close()
		gs.Stop()
	})
	return e
}

// open opens a control stream and sends first.
func (e *env) open(t *testing.T, ctx context.Context, first *agentv1.ControlRequest) agentv1.AgentService_ControlClient {
	t.Helper()
	stream, err := agentv1.NewAgentServiceClient(e.cc).Control(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(first); err != nil {
		t.Fatal(err)
	}
	return stream
}

func register(id string, labels map[string]string) *agentv1.ControlRequest {
	return &agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{AgentId: id, Host: id + ".host", Labels: labels}}}
}

func (e *env) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-e.srv.ends:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("control stream did not end")
		return nil
	}
}

func TestRegisterFirst(t *testing.T) {
	e := start(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.open(t, ctx, &agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{}}})
	if err := e.end(t); !errors.Is(err, ErrNoRegister) {
		t.Errorf("heartbeat first: %v, want ErrNoRegister", err)
	}
	// The rule of ids.ValidAgent, the one the certificate path applies:
	// "tpu 1", "tpu-é" and "-flag" were once taken here.
	for _, tt := range []struct {
		name string
		id   string
	}{
		{"empty", ""},
		{"control character", "a\x01b"},
		{"space", "tpu 1"},
		{"unicode", "tpu-\u00e9"},
		{"flag", "-flag"},
		{"dot dot", ".."},
		{"slash", "a/b"},
		{"129 bytes", strings.Repeat("a", 129)},
	} {
		e.open(t, ctx, register(tt.id, nil))
		if err := e.end(t); !errors.Is(err, ids.ErrBadAgent) {
			t.Errorf("%s agent id %q: %v, want ids.ErrBadAgent", tt.name, tt.id, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	e := start(t, Config{Identity: func(context.Context) string { return "tpu-1" }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.open(t, ctx, register("tpu-2", nil))
	if err := e.end(t); !errors.Is(err, ErrIdentity) {
		t.Errorf("registering as another agent: %v, want ErrIdentity", err)
	}
}

func TestLifecycle(t *testing.T) {
	e := start(t, Config{HeartbeatInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	labels := map[string]string{"model": "qwen3"}
	s1 := e.open(t, ctx, register("tpu-1", labels))
	m, err := s1.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.GetRegistered().GetHeartbeatIntervalMs(); got != 50 {
		t.Errorf("heartbeat interval = %d ms, want 50", got)
	}
	if o := <-e.obs.ch; o.kind != "connected" || o.agent != "tpu-1" {
		t.Errorf("observed %+v, want connected tpu-1", o)
	}
	_ = s1.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{ServerHealthy: true, SpoolBytes: 42}}})
	_ = s1.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Progress{Progress: &agentv1.CaptureProgress{CaptureId: "c1", State: agentv1.CaptureState_CAPTURE_STATE_PROFILING}}})
	if o := <-e.obs.ch; o.kind != "progress" || o.state != agentv1.CaptureState_CAPTURE_STATE_PROFILING {
		t.Errorf("observed %+v, want progress profiling", o)
	}
	sel, _ := selector.Parse("model=qwen3")
	got := e.reg.Connections(sel)
	if len(got) != 1 || !got[0].ServerHealthy || got[0].SpoolBytes != 42 || got[0].ActiveCapture != "c1" || got[0].Host != "tpu-1.host" {
		t.Errorf("Connections = %+v", got)
	}
	// A command reaches the agent.
	if err := e.reg.Send("tpu-1", &agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Cancel{Cancel: &agentv1.CancelCapture{CaptureId: "c1"}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := s1.Recv(); err != nil || m.GetCancel().GetCaptureId() != "c1" {
		t.Errorf("agent got %v, %v; want cancel c1", m, err)
	}
	if err := e.reg.Send("nobody", &agentv1.ControlResponse{}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send to an unknown agent: %v, want ErrNotConnected", err)
	}

	// A second stream of the same agent replaces the first.
	s2 := e.open(t, ctx, register("tpu-1", labels))
	if _, err := s2.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := e.end(t); !errors.Is(err, ErrReplaced) {
		t.Errorf("first stream ended with %v, want ErrReplaced", err)
	}
	if n := len(e.reg.Connections(selector.Selector{})); n != 1 {
		t.Errorf("%d connections after a replace, want 1", n)
	}
	// The observer hears of the new stream, not of the old one ending.
	if o := <-e.obs.ch; o.kind != "connected" {
		t.Errorf("observed %+v after a replace, want connected", o)
	}

	// Silence ends the stream after MissedHeartbeats intervals.
	t0 := time.Now()
	if err := e.end(t); !errors.Is(err, ErrSilent) {
		t.Errorf("silent agent: %v, want ErrSilent", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("silent agent dropped after %v, want about 150ms", d)
	}
	if e.reg.Connected("tpu-1") {
		t.Error("silent agent still connected")
	}
	if o := <-e.obs.ch; o.kind != "disconnected" {
		t.Errorf("observed %+v after silence, want disconnected", o)
	}
	all, err := e.reg.List(ctx, sel, true)
	if err != nil || len(all) != 1 || all[0].Connected || all[0].Host != "tpu-1.host" {
		t.Errorf("List(all) = %+v, %v; want tpu-1, disconnected", all, err)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	e := start(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.open(t, ctx, register("tpu-1", nil))
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	e.reg.Close()
	if err := e.end(t); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	e.open(t, ctx, register("tpu-2", nil))
	if err := e.end(t); !errors.Is(err, ErrClosed) {
		t.Errorf("new stream after Close: %v, want ErrClosed", err)
	}
}
