// Package uplinktest is a hand-written fake of the collector's AgentService
// for agent tests: real gRPC on loopback, staged uploads that survive a
// Stop and Restart (as the collector's durable staging would), and hooks to
// cut a stream mid-upload.
package uplinktest

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Options configure the fake.
type Options struct {
	// HeartbeatMS is sent in Registered. Zero means 100.
	HeartbeatMS int64
	// TLS, if set, serves TLS with this config (set ClientAuth for mTLS).
	TLS *tls.Config
}

type staged struct {
	start *agentv1.UploadStart
	data  bytes.Buffer
	next  int64
}

// Server is a fake collector.
type Server struct {
	// Addr is the loopback address it listens on (kept across restarts).
	Addr string
	opts Options

	mu         sync.Mutex
	srv        *grpc.Server
	stages     map[string]*staged
	committed  map[string][]byte
	chunks     int64
	registers  []*agentv1.Register
	progress   []*agentv1.CaptureProgress
	heartbeats int
	control    chan *agentv1.ControlResponse
	onChunk    func(id string, seq int64) error
	changed    chan struct{}
}

// Start starts a fake collector on 127.0.0.1; it stops at the test's end.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.HeartbeatMS == 0 {
		opts.HeartbeatMS = 100
	}
	s := &Server{opts: opts, stages: map[string]*staged{}, committed: map[string][]byte{}, changed: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = lis.Addr().String()
	s.serve(lis)
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(lis net.Listener) {
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(4 << 20)}
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	srv := grpc.NewServer(opts...)
	agentv1.RegisterAgentServiceServer(srv, &service{s: s})
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(lis)
}

// Stop kills the server at once, cutting every stream (staging survives).
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// Restart starts the server again on the same address.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	var lis net.Listener
	var err error
	for range 50 {
		if lis, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("restart the fake collector on %s: %v", s.Addr, err)
	}
	s.serve(lis)
}

// OnChunk sets a hook called before each chunk is staged; an error from it
// ends the upload stream with that error.
func (s *Server) OnChunk(fn func(id string, seq int64) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChunk = fn
}

// Committed returns a committed capture's bytes.
func (s *Server) Committed(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.committed[id]
	return b, ok
}

// Chunks counts chunks received over every stream (duplicates included).
func (s *Server) Chunks() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chunks
}

// Registers returns the Register messages received.
func (s *Server) Registers() []*agentv1.Register {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentv1.Register(nil), s.registers...)
}

// Progress returns the progress reports received.
func (s *Server) Progress() []*agentv1.CaptureProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*agentv1.CaptureProgress(nil), s.progress...)
}

// Heartbeats counts heartbeats received.
func (s *Server) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heartbeats
}

// SendCommand sends a message down the newest control stream.
func (s *Server) SendCommand(m *agentv1.ControlResponse) error {
	s.mu.Lock()
	ch := s.control
	s.mu.Unlock()
	if ch == nil {
		return errors.New("uplinktest: no agent connected")
	}
	select {
	case ch <- m:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("uplinktest: control stream not draining")
	}
}

// Wait waits up to d for cond, checked after every change.
func (s *Server) Wait(d time.Duration, cond func() bool) bool {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			return cond()
		}
	}
}

func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type service struct {
	agentv1.UnimplementedAgentServiceServer
	s *Server
}

// Control registers the agent and relays heartbeats, progress and commands.
func (v *service) Control(stream grpc.BidiStreamingServer[agentv1.ControlRequest, agentv1.ControlResponse]) error {
	s := v.s
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := m.GetRegister()
	if reg == nil {
		return status.Error(codes.FailedPrecondition, "register first")
	}
	ch := make(chan *agentv1.ControlResponse, 8)
	s.mu.Lock()
	s.registers = append(s.registers, reg)
	s.control = ch
	var done []string
	for _, id := range reg.GetPendingCaptures() {
		if _, ok := s.committed[id]; ok {
			done = append(done, id)
		}
	}
	s.changedLocked()
	s.mu.Unlock()
	if err := stream.Send(&agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Registered{Registered: &agentv1.Registered{
		HeartbeatIntervalMs: s.opts.HeartbeatMS, Committed: done}}}); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			s.mu.Lock()
			switch {
			case m.GetHeartbeat() != nil:
				s.heartbeats++
			case m.GetProgress() != nil:
				s.progress = append(s.progress, m.GetProgress())
			}
			s.changedLocked()
			s.mu.Unlock()
		}
	}()
	for {
		select {
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case m := <-ch:
			if err := stream.Send(m); err != nil {
				return err
			}
		}
	}
}

// Upload stages chunks and commits at UploadEnd after checking size and hash.
func (v *service) Upload(stream grpc.BidiStreamingServer[agentv1.UploadRequest, agentv1.UploadResponse]) error {
	s := v.s
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	start := m.GetStart()
	if start == nil {
		return status.Error(codes.InvalidArgument, "upload: start first")
	}
	id := start.GetCaptureId()
	s.mu.Lock()
	if _, ok := s.committed[id]; ok {
		s.mu.Unlock()
		return stream.Send(&agentv1.UploadResponse{NextSeq: start.GetChunks(), Committed: true})
	}
	st := s.stages[id]
	if st == nil || st.start.GetBytes() != start.GetBytes() || !bytes.Equal(st.start.GetSha256(), start.GetSha256()) {
		st = &staged{start: start}
		s.stages[id] = st
	}
	next := st.next
	s.mu.Unlock()
	if err := stream.Send(&agentv1.UploadResponse{NextSeq: next}); err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		if c := m.GetChunk(); c != nil {
			s.mu.Lock()
			hook := s.onChunk
			s.mu.Unlock()
			if hook != nil {
				if err := hook(id, c.GetSeq()); err != nil {
					return err
				}
			}
			s.mu.Lock()
			s.chunks++
			switch {
			case c.GetSeq() < st.next:
				// A duplicate after a resume: already staged.
			case c.GetSeq() > st.next || c.GetOffset() != int64(st.data.Len()) || len(c.GetData()) > 1<<20:
				s.mu.Unlock()
				return status.Errorf(codes.InvalidArgument, "upload: chunk %d at %d, want chunk %d at %d", c.GetSeq(), c.GetOffset(), st.next, st.data.Len())
			default:
				st.data.Write(c.GetData())
				st.next++
			}
			next := st.next
			s.changedLocked()
			s.mu.Unlock()
			if err := stream.Send(&agentv1.UploadResponse{NextSeq: next}); err != nil {
				return err
			}
			continue
		}
		if m.GetEnd() != nil {
			s.mu.Lock()
			data := st.data.Bytes()
			sum := sha256.Sum256(data)
			if int64(len(data)) != st.start.GetBytes() || !bytes.Equal(sum[:], st.start.GetSha256()) {
				delete(s.stages, id)
				s.mu.Unlock()
				return status.Error(codes.DataLoss, fmt.Sprintf("upload: %d bytes with a different hash, want %d", len(data), st.start.GetBytes()))
			}
			s.committed[id] = bytes.Clone(data)
			delete(s.stages, id)
			s.changedLocked()
			s.mu.Unlock()
			return stream.Send(&agentv1.UploadResponse{NextSeq: st.next, Committed: true})
		}
	}
}
