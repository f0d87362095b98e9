// Package agenttest is a hand-written in-process agent for the collector's
// tests: it registers on a control stream, heartbeats, answers capture
// commands the way it is told (capture and upload, busy, fail, stay silent,
// hang) and uploads captures with resume.
package agenttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// Behaviors on a capture command.
const (
	// Capture profiles (waits for start_at), uploads and reports done.
	Capture = "capture"
	// Busy answers busy.
	Busy = "busy"
	// Fail answers failed with a reason.
	Fail = "fail"
	// Silent never answers.
	Silent = "silent"
	// Hang accepts and then never finishes.
	Hang = "hang"
)

// Dial connects to a collector on loopback without TLS.
func Dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// Heartbeat is the heartbeat interval for a collector that a test's fake
// agents talk to. A fake agent does not reconnect, so the collector's
// silence limit (three intervals) must outlast a loaded machine's pauses:
// at 200 ms, two test suites and a browser on two cores ended the streams.
const Heartbeat = time.Second

// Agent is a fake agent.
type Agent struct {
	// ID and Labels are what it registers with.
	ID     string
	Labels map[string]string
	// Behavior says how it answers capture commands (default Capture).
	Behavior string
	// Make builds the capture it uploads; nil means a small fixed one.
	Make func(cmd *agentv1.CaptureCommand) *capture.Capture
	// Heartbeat overrides the interval the collector asks for, if set.
	Heartbeat time.Duration
	// Pending and Active are sent in Register (a reconnect).
	Pending []string
	Active  []*agentv1.CaptureProgress

	// mu guards the fields below.
	mu         sync.Mutex
	commands   []Received
	committed  []string
	registered chan struct{}
}

// Received is a command as the agent got it.
type Received struct {
	// Cmd is the command.
	Cmd *agentv1.CaptureCommand
	// At is when it arrived.
	At time.Time
	// Started is when the agent started profiling (Capture behaviour).
	Started time.Time
}

// Commands returns the commands received so far.
func (a *Agent) Commands() []Received {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Received(nil), a.commands...)
}

// Committed returns what Registered said was committed.
func (a *Agent) Committed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.committed
}

// Registered returns a channel closed once the collector accepted the agent.
func (a *Agent) Registered() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.registered == nil {
		a.registered = make(chan struct{})
	}
	return a.registered
}

// Run holds the control stream until ctx ends or the stream breaks.
func (a *Agent) Run(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := agentv1.NewAgentServiceClient(cc)
	stream, err := client.Control(ctx)
	if err != nil {
		return err
	}
	var sendMu sync.Mutex
	send := func(m *agentv1.ControlRequest) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	err = send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{
		AgentId: a.ID, Host: a.ID + ".test", Labels: a.Labels, AgentVersion: "test", Backends: []string{"http"},
		PendingCaptures: a.Pending, Active: a.Active,
	}}})
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := first.GetRegistered()
	if reg == nil {
		return errors.New("agenttest: first answer is not Registered")
	}
	a.Registered()
	a.mu.Lock()
	a.committed = reg.GetCommitted()
	close(a.registered)
	a.mu.Unlock()
	hb := a.Heartbeat
	if hb == 0 {
		hb = time.Duration(reg.GetHeartbeatIntervalMs()) * time.Millisecond
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		t := time.NewTicker(hb)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{ServerHealthy: true}}}) != nil {
					return
				}
			}
		}
	})
	busy := false
	var busyMu sync.Mutex
	for {
		m, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil || err == io.EOF {
				return nil
			}
			return err
		}
		cmd := m.GetCapture()
		if cmd == nil {
			continue
		}
		rec := Received{Cmd: cmd, At: time.Now()}
		a.mu.Lock()
		i := len(a.commands)
		a.commands = append(a.commands, rec)
		a.mu.Unlock()
		progress := func(state agentv1.CaptureState, msg string) error {
			return send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Progress{Progress: &agentv1.CaptureProgress{
				CaptureId: cmd.GetCaptureId(), State: state, Message: msg,
			}}})
		}
		busyMu.Lock()
		wasBusy := busy
		if !wasBusy && (a.Behavior == "" || a.Behavior == Capture || a.Behavior == Hang) {
			busy = true
		}
		busyMu.Unlock()
		switch {
		case a.Behavior == Busy || wasBusy:
			_ = progress(agentv1.CaptureState_CAPTURE_STATE_BUSY, "already capturing")
		case a.Behavior == Fail:
			_ = progress(agentv1.CaptureState_CAPTURE_STATE_FAILED, "device tracing was off: set device_tracer_level=1")
		case a.Behavior == Silent:
		case a.Behavior == Hang:
			_ = progress(agentv1.CaptureState_CAPTURE_STATE_ACCEPTED, "")
		default:
			wg.Go(func() {
				defer func() { busyMu.Lock(); busy = false; busyMu.Unlock() }()
				_ = progress(agentv1.CaptureState_CAPTURE_STATE_ACCEPTED, "")
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(cmd.GetStartAt().AsTime())):
				}
				a.mu.Lock()
				a.commands[i].Started = time.Now()
				a.mu.Unlock()
				_ = progress(agentv1.CaptureState_CAPTURE_STATE_PROFILING, "")
				c := a.capture(cmd)
				// Free once the capture is taken, as a real agent is once
				// it has spooled it: the upload runs beside the next
				// capture, and the collector, which finishes a fleet
				// capture at the commit, may send the next command before
				// the commit's answer reaches this agent.
				busyMu.Lock()
				busy = false
				busyMu.Unlock()
				_ = progress(agentv1.CaptureState_CAPTURE_STATE_UPLOADING, "")
				data, sum := capturetest.Fpcap(c)
				if _, err := Upload(ctx, cc, UploadSpec{CaptureID: cmd.GetCaptureId(), AgentID: a.ID, Data: data, SHA256: sum}); err != nil {
					_ = progress(agentv1.CaptureState_CAPTURE_STATE_FAILED, err.Error())
					return
				}
				_ = progress(agentv1.CaptureState_CAPTURE_STATE_DONE, "")
			})
		}
	}
}

func (a *Agent) capture(cmd *agentv1.CaptureCommand) *capture.Capture {
	if a.Make != nil {
		return a.Make(cmd)
	}
	return capturetest.Capture(time.Now().UnixNano(),
		capturetest.Op{TFOp: "jit(run)/attention/dot_general:dot_general", Start: 0, Dur: 10 * capture.Microsecond},
		capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: 10 * capture.Microsecond, Dur: 20 * capture.Microsecond},
	)
}

// UploadSpec describes one upload attempt.
type UploadSpec struct {
	// CaptureID and AgentID name the capture and its agent.
	CaptureID, AgentID string
	// Data is the .fpcap; SHA256 is announced (may be wrong on purpose).
	Data, SHA256 []byte
	// Bytes overrides the announced size if non-zero.
	Bytes int64
	// ChunkBytes is the chunk size (default 1 MiB).
	ChunkBytes int
	// StopAfter, if positive, ends the attempt after that many chunks are
	// acknowledged, without UploadEnd (a broken stream).
	StopAfter int64
}

// Result is how an upload attempt went.
type Result struct {
	// Resumed is the next_seq the collector answered to UploadStart.
	Resumed int64
	// Acked is the last next_seq acknowledged.
	Acked int64
	// Committed is whether the collector committed the capture.
	Committed bool
	// EndToCommit is the time from sending UploadEnd to the commit answer.
	EndToCommit time.Duration
}

// Upload runs one upload attempt: it resumes where the collector says,
// sends the chunks (waiting for each acknowledgement) and UploadEnd.
func Upload(ctx context.Context, cc *grpc.ClientConn, u UploadSpec) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if u.ChunkBytes <= 0 {
		u.ChunkBytes = 1 << 20
	}
	size := u.Bytes
	if size == 0 {
		size = int64(len(u.Data))
	}
	chunks := (int64(len(u.Data)) + int64(u.ChunkBytes) - 1) / int64(u.ChunkBytes)
	var res Result
	stream, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
	if err != nil {
		return res, err
	}
	err = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
		CaptureId: u.CaptureID, AgentId: u.AgentID, Chunks: chunks, Bytes: size, Sha256: u.SHA256,
	}}})
	if err != nil {
		return res, err
	}
	first, err := stream.Recv()
	if err != nil {
		return res, err
	}
	res.Resumed, res.Acked = first.GetNextSeq(), first.GetNextSeq()
	if first.GetCommitted() {
		res.Committed = true
		return res, nil
	}
	for seq := res.Resumed; seq < chunks; seq++ {
		off := seq * int64(u.ChunkBytes)
		end := min(off+int64(u.ChunkBytes), int64(len(u.Data)))
		err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{
			Seq: seq, Offset: off, Data: u.Data[off:end],
		}}})
		if err != nil {
			return res, recvErr(stream, err)
		}
		ack, err := stream.Recv()
		if err != nil {
			return res, err
		}
		res.Acked = ack.GetNextSeq()
		if u.StopAfter > 0 && res.Acked >= u.StopAfter {
			return res, nil // the stream breaks here
		}
	}
	t0 := time.Now()
	if err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: chunks}}}); err != nil {
		return res, recvErr(stream, err)
	}
	last, err := stream.Recv()
	res.EndToCommit = time.Since(t0)
	if err != nil {
		return res, err
	}
	res.Committed = last.GetCommitted()
	if !res.Committed {
		return res, fmt.Errorf("agenttest: upload of %s ended without commit", u.CaptureID)
	}
	return res, nil
}

// recvErr returns the stream's status after a failed Send.
func recvErr(stream grpc.BidiStreamingClient[agentv1.UploadRequest, agentv1.UploadResponse], err error) error {
	if err == io.EOF {
		if _, rerr := stream.Recv(); rerr != nil {
			return rerr
		}
	}
	return err
}
