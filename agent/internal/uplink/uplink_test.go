package uplink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

type handler struct {
	mu       sync.Mutex
	captures []string
	cancels  []string
}

func (h *handler) Capture(cmd *agentv1.CaptureCommand) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.captures = append(h.captures, cmd.GetCaptureId())
}

func (h *handler) Cancel(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cancels = append(h.cancels, id)
}

func (h *handler) got() ([]string, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.captures...), append([]string(nil), h.cancels...)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func spoolWith(t *testing.T, dir string, caps map[string][]byte) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, b := range caps {
		if _, err := sp.Put(spool.Meta{CaptureID: id}, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			t.Fatal(err)
		}
	}
	return sp
}

type runner struct {
	c    *Client
	stop context.CancelFunc
	done chan error
}

// run runs c until the test ends (or halt).
func run(t *testing.T, c *Client) *runner {
	ctx, cancel := context.WithCancel(t.Context())
	r := &runner{c: c, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.halt(t) })
	return r
}

func start(t *testing.T, addr string, sp *spool.Spool, h Handler, committed *atomic.Int32) *runner {
	t.Helper()
	c, err := New(Options{Addr: addr, AgentID: "agent-1", Spool: sp, Handler: h,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AckTimeout: 5 * time.Second,
		OnCommitted: func(spool.Meta) {
			if committed != nil {
				committed.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return run(t, c)
}

func (r *runner) halt(t *testing.T) {
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
		r.done <- nil
	case <-time.After(10 * time.Second):
		t.Error("Run did not return after cancel")
	}
}

func TestUploadAll(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	caps := map[string][]byte{
		"empty": {},
		"small": randomBytes(1000, 1),
		"exact": randomBytes(2*spool.ChunkSize, 2),
		"big":   randomBytes(3*spool.ChunkSize+17, 3),
	}
	sp := spoolWith(t, t.TempDir(), caps)
	var committed atomic.Int32
	start(t, fc.Addr, sp, &handler{}, &committed)
	if !fc.Wait(20*time.Second, func() bool { return sp.Size() == 0 && len(sp.List()) == 0 }) {
		t.Fatalf("spool still holds %v", sp.IDs())
	}
	for id, want := range caps {
		got, ok := fc.Committed(id)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("committed %s: %d bytes (ok=%v), want %d identical bytes", id, len(got), ok, len(want))
		}
	}
	if committed.Load() != 4 {
		t.Errorf("OnCommitted called %d times, want 4", committed.Load())
	}
	if got, want := fc.Chunks(), int64(0+1+2+4); got != want {
		t.Errorf("chunks received = %d, want %d", got, want)
	}
}

func TestCollectorRestartMidUpload(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	data := randomBytes(10*spool.ChunkSize+123, 7)
	sp := spoolWith(t, t.TempDir(), map[string][]byte{"cap": data})
	var killed atomic.Bool
	fc.OnChunk(func(id string, seq int64) error {
		if seq == 5 && killed.CompareAndSwap(false, true) {
			go fc.Stop()
			return errors.New("killed")
		}
		return nil
	})
	start(t, fc.Addr, sp, &handler{}, nil)
	if !fc.Wait(10*time.Second, killed.Load) {
		t.Fatal("the upload never reached chunk 5")
	}
	time.Sleep(300 * time.Millisecond) // the agent retries against a dead collector
	fc.Restart(t)
	if !fc.Wait(20*time.Second, func() bool { _, ok := fc.Committed("cap"); return ok }) {
		t.Fatal("not committed after the collector restarted")
	}
	got, _ := fc.Committed("cap")
	if !bytes.Equal(got, data) {
		t.Errorf("committed %d bytes, not identical to the %d spooled", len(got), len(data))
	}
	// Resumed from chunk 5, not from 0: 5 staged + at most a window of duplicates + 6 more.
	if n := fc.Chunks(); n > 11+8 {
		t.Errorf("collector received %d chunks for an 11-chunk capture: the upload restarted instead of resuming", n)
	}
	if !fc.Wait(5*time.Second, func() bool { return len(sp.List()) == 0 }) {
		t.Errorf("spool still holds %v after commit", sp.IDs())
	}
}

func TestAgentRestartMidUpload(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	dir := t.TempDir()
	data := randomBytes(12*spool.ChunkSize, 9)
	sp := spoolWith(t, dir, map[string][]byte{"cap": data})
	reached := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	fc.OnChunk(func(id string, seq int64) error {
		if seq == 6 {
			once.Do(func() { close(reached) })
			<-release
			return errors.New("agent went away")
		}
		return nil
	})
	r := start(t, fc.Addr, sp, &handler{}, nil)
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the upload never reached chunk 6")
	}
	t0 := time.Now()
	r.halt(t) // the agent dies mid-upload
	t.Logf("halt took %v", time.Since(t0))
	close(release)
	fc.OnChunk(nil)

	// A new agent process: the spool is reopened from disk.
	sp2, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := sp2.Get("cap")
	if !ok || m.Attempts != 1 {
		t.Fatalf("reopened spool entry = %+v, %v; want 1 attempt recorded", m, ok)
	}
	start(t, fc.Addr, sp2, &handler{}, nil)
	if !fc.Wait(20*time.Second, func() bool { _, ok := fc.Committed("cap"); return ok }) {
		t.Fatal("not committed after the agent restarted")
	}
	got, _ := fc.Committed("cap")
	if !bytes.Equal(got, data) {
		t.Errorf("committed %d bytes, not identical to the %d spooled", len(got), len(data))
	}
	if n := fc.Chunks(); n > 12+8 {
		t.Errorf("collector received %d chunks for a 12-chunk capture: not resumed", n)
	}
}

func TestControl(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{HeartbeatMS: 50})
	sp := spoolWith(t, t.TempDir(), map[string][]byte{"pending-1": []byte("x")})
	// Hold uploads so the entry stays pending at registration.
	hold := make(chan struct{})
	fc.OnChunk(func(string, int64) error { <-hold; return errors.New("held") })
	h := &handler{}
	r := start(t, fc.Addr, sp, h, nil)
	if !fc.Wait(10*time.Second, func() bool { return len(fc.Registers()) == 1 && fc.Heartbeats() >= 2 }) {
		t.Fatalf("registers %d, heartbeats %d", len(fc.Registers()), fc.Heartbeats())
	}
	reg := fc.Registers()[0]
	if reg.GetAgentId() != "agent-1" || len(reg.GetPendingCaptures()) != 1 || reg.GetPendingCaptures()[0] != "pending-1" {
		t.Errorf("Register = %v, want agent-1 with pending-1", reg)
	}
	if err := fc.SendCommand(&agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Capture{Capture: &agentv1.CaptureCommand{CaptureId: "c-9"}}}); err != nil {
		t.Fatal(err)
	}
	if err := fc.SendCommand(&agentv1.ControlResponse{Msg: &agentv1.ControlResponse_Cancel{Cancel: &agentv1.CancelCapture{CaptureId: "c-8"}}}); err != nil {
		t.Fatal(err)
	}
	r.c.Progress(&agentv1.CaptureProgress{CaptureId: "c-9", State: agentv1.CaptureState_CAPTURE_STATE_PROFILING})
	if !fc.Wait(5*time.Second, func() bool {
		c, x := h.got()
		return len(c) == 1 && len(x) == 1 && len(fc.Progress()) == 1
	}) {
		c, x := h.got()
		t.Fatalf("captures %v cancels %v progress %v", c, x, fc.Progress())
	}
	// The collector restarts: the agent registers again.
	fc.Stop()
	close(hold)
	fc.OnChunk(nil)
	fc.Restart(t)
	if !fc.Wait(10*time.Second, func() bool { return len(fc.Registers()) == 2 }) {
		t.Fatalf("registers = %d after the collector restarted, want 2", len(fc.Registers()))
	}
	if !fc.Wait(10*time.Second, func() bool { return len(sp.List()) == 0 }) {
		t.Errorf("spool still holds %v", sp.IDs())
	}
}

func TestRegisteredCommittedDropsSpool(t *testing.T) {
	fc := uplinktest.Start(t, uplinktest.Options{})
	data := []byte("already there")
	sp := spoolWith(t, t.TempDir(), map[string][]byte{"done-1": data})
	// First agent uploads it.
	var committed atomic.Int32
	r := start(t, fc.Addr, sp, &handler{}, &committed)
	if !fc.Wait(10*time.Second, func() bool { return committed.Load() == 1 }) {
		t.Fatal("not committed")
	}
	r.halt(t)
	// A spool that still lists it (the agent died before removing it) is cleaned at registration.
	sp2 := spoolWith(t, t.TempDir(), map[string][]byte{"done-1": data})
	fc.OnChunk(func(string, int64) error { return errors.New("no uploads") })
	var committed2 atomic.Int32
	start(t, fc.Addr, sp2, &handler{}, &committed2)
	if !fc.Wait(10*time.Second, func() bool { return len(sp2.List()) == 0 }) {
		t.Fatalf("spool still holds %v", sp2.IDs())
	}
	if committed2.Load() != 1 {
		t.Errorf("OnCommitted called %d times, want 1", committed2.Load())
	}
}

func TestNewErrors(t *testing.T) {
	sp := spoolWith(t, t.TempDir(), nil)
	if _, err := New(Options{Spool: sp, Handler: &handler{}, AgentID: "a"}); !errors.Is(err, ErrNoAddr) {
		t.Errorf("New(no addr) = %v, want ErrNoAddr", err)
	}
	if _, err := New(Options{Addr: "127.0.0.1:1"}); err == nil {
		t.Error("New(no spool) = nil error")
	}
}
