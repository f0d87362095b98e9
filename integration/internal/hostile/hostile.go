// Package hostile is a client of the collector's agent API that behaves as
// a compromised or broken agent might: it holds a real agent certificate
// and speaks our own protos, but uploads under other agents' capture ids,
// probes which captures exist, holds upload streams open without sending,
// and sends empty chunks. The end-to-end tests drive it against the real
// fleetprof-collector so that issue 13's adversarial findings stay fixed.
package hostile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	"github.com/fleetprof/fleetprof/plugins/transport"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Errors.
var (
	// ErrNotCommitted means an upload ended without the collector saying
	// it committed the capture, and without an error.
	ErrNotCommitted = errors.New("hostile: upload ended without commit")
)

// Dial connects to a collector's agent port over mTLS with the agent
// certificate in certFile and keyFile, trusting the CA in caFile for the
// collector's certificate, which must name serverName.
func Dial(addr, certFile, keyFile, caFile, serverName string) (*grpc.ClientConn, error) {
	tc, err := transport.ClientTLS(transport.TLSFiles{Cert: certFile, Key: keyFile, CA: caFile}, serverName)
	if err != nil {
		return nil, fmt.Errorf("hostile: agent TLS: %w", err)
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
}

// Capture returns a small .fpcap that parses (a forgery the collector
// would store if it let it in), with its SHA-256. host goes into its
// context, so a stored forgery can be told from the real capture.
func Capture(host string) ([]byte, []byte, error) {
	c := &capture.Capture{BaseNS: time.Now().UnixNano(), Source: capture.Source{Format: "fpcap", Name: "forged.fpcap"},
		Context: map[string]string{"host": host}}
	l := &capture.Line{ID: 1, Name: "XLA Ops"}
	p := &capture.Plane{ID: 1, Name: "/device:TPU:0", Lines: []*capture.Line{l}}
	for i := range int64(20) {
		ev := capture.Event{Name: "fusion", Start: i * 10 * capture.Microsecond, Dur: 5 * capture.Microsecond, Self: 5 * capture.Microsecond}
		l.Events = append(l.Events, ev)
		p.OpEvents++
		p.OpTotal += ev.Dur
		c.Windows = append(c.Windows, ev.Interval())
	}
	c.Span = capture.Interval{Start: 0, End: 195 * capture.Microsecond}
	p.EventsTotal, c.EventsTotal = p.OpEvents, p.OpEvents
	p.Busy = capture.TotalLen(c.Windows)
	c.Planes = []*capture.Plane{p}
	var b bytes.Buffer
	if err := fpcap.Write(&b, c); err != nil {
		return nil, nil, fmt.Errorf("hostile: write the forged capture: %w", err)
	}
	sum := sha256.Sum256(b.Bytes())
	return b.Bytes(), sum[:], nil
}

// Upload is one whole upload: UploadStart, the chunks, UploadEnd.
type Upload struct {
	// CaptureID and AgentID are announced in UploadStart.
	CaptureID, AgentID string
	// Data is sent in chunks of ChunkBytes (default 1 MiB); SHA256 is
	// announced as its hash.
	Data, SHA256 []byte
	// ChunkBytes is the chunk size. Zero means 1 MiB.
	ChunkBytes int
}

// Send runs the upload on a new stream, each chunk waiting for its
// acknowledgement, and returns nil once the collector says the capture is
// committed, or the stream's error (a gRPC status) where it ended.
func (u Upload) Send(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := u.ChunkBytes
	if size <= 0 {
		size = 1 << 20
	}
	chunks := (len(u.Data) + size - 1) / size
	s, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
	if err != nil {
		return err
	}
	start := &agentv1.UploadStart{CaptureId: u.CaptureID, AgentId: u.AgentID, Chunks: int64(chunks), Bytes: int64(len(u.Data)), Sha256: u.SHA256}
	if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: start}}); err != nil {
		return cause(s, err)
	}
	first, err := s.Recv()
	if err != nil {
		return err
	}
	if first.GetCommitted() {
		return nil
	}
	for seq := first.GetNextSeq(); seq < int64(chunks); seq++ {
		off := seq * int64(size)
		data := u.Data[off:min(off+int64(size), int64(len(u.Data)))]
		if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: seq, Offset: off, Data: data}}}); err != nil {
			return cause(s, err)
		}
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
	if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: int64(chunks)}}}); err != nil {
		return cause(s, err)
	}
	last, err := s.Recv()
	if err != nil {
		return err
	}
	if !last.GetCommitted() {
		return ErrNotCommitted
	}
	return nil
}

// cause returns a stream's real error when Send reports io.EOF.
func cause(s agentv1.AgentService_UploadClient, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	for {
		if _, rerr := s.Recv(); rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return err
			}
			return rerr
		}
	}
}

// Held is an upload stream held open without sending anything more.
type Held struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Hold opens an upload stream and sends only start (nil: nothing at all),
// then waits for the collector to end it. Release ends it from this side.
func Hold(ctx context.Context, cc *grpc.ClientConn, start *agentv1.UploadStart) *Held {
	ctx, cancel := context.WithCancel(ctx)
	h := &Held{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		s, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
		if err != nil {
			h.err = err
			return
		}
		if start != nil {
			if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: start}}); err != nil {
				h.err = cause(s, err)
				return
			}
		}
		for {
			if _, err := s.Recv(); err != nil {
				h.err = err
				return
			}
		}
	}()
	return h
}

// Wait waits up to d for the stream to end and reports whether it did
// and with which error.
func (h *Held) Wait(d time.Duration) (bool, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-h.done:
		return true, h.err
	case <-t.C:
		return false, nil
	}
}

// Release ends the stream from this side and waits for it.
func (h *Held) Release() {
	h.cancel()
	<-h.done
}

// EmptyChunks sends start and then n empty chunks, each waiting for its
// acknowledgement, and returns how many were acknowledged and the error the
// stream ended with (nil if all n were).
func EmptyChunks(ctx context.Context, cc *grpc.ClientConn, start *agentv1.UploadStart, n int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: start}}); err != nil {
		return 0, cause(s, err)
	}
	if _, err := s.Recv(); err != nil {
		return 0, err
	}
	empty := &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{}}}
	for i := range n {
		if err := s.Send(empty); err != nil {
			return i, cause(s, err)
		}
		if _, err := s.Recv(); err != nil {
			return i, err
		}
	}
	return n, nil
}

// Control is a control stream registered as an agent: it heartbeats on
// its own until Close, and hands out the commands the collector sends.
type Control struct {
	stream     agentv1.AgentService_ControlClient
	registered *agentv1.Registered
	cancel     context.CancelFunc
	cmds       chan *agentv1.CaptureCommand
	wg         sync.WaitGroup

	// sendMu serialises Send on the stream (heartbeats and progress).
	sendMu sync.Mutex
}

// Register opens a control stream, sends reg and waits for Registered.
func Register(ctx context.Context, cc *grpc.ClientConn, reg *agentv1.Register) (*Control, error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := agentv1.NewAgentServiceClient(cc).Control(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := s.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: reg}}); err != nil {
		cancel()
		return nil, err
	}
	m, err := s.Recv()
	if err != nil {
		cancel()
		return nil, err
	}
	c := &Control{stream: s, registered: m.GetRegistered(), cancel: cancel, cmds: make(chan *agentv1.CaptureCommand, 16)}
	every := max(time.Duration(c.registered.GetHeartbeatIntervalMs())*time.Millisecond, 50*time.Millisecond)
	c.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if c.send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{ServerHealthy: true}}}) != nil {
					return
				}
			}
		}
	})
	c.wg.Go(func() {
		defer close(c.cmds)
		for {
			m, err := s.Recv()
			if err != nil {
				return
			}
			if cmd := m.GetCapture(); cmd != nil {
				select {
				case c.cmds <- cmd:
				default: // a test that reads no commands loses them
				}
			}
		}
	})
	return c, nil
}

// Registered is the collector's answer to Register.
func (c *Control) Registered() *agentv1.Registered { return c.registered }

// Command waits for the next capture command.
func (c *Control) Command(ctx context.Context) (*agentv1.CaptureCommand, error) {
	select {
	case cmd, ok := <-c.cmds:
		if !ok {
			return nil, io.EOF
		}
		return cmd, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Progress reports a capture's progress.
func (c *Control) Progress(p *agentv1.CaptureProgress) error {
	return c.send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Progress{Progress: p}})
}

func (c *Control) send(m *agentv1.ControlRequest) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.stream.Send(m)
}

// Close ends the control stream and waits for its goroutines.
func (c *Control) Close() {
	c.cancel()
	c.wg.Wait()
}
