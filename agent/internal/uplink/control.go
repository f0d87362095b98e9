package uplink

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"

	"github.com/fleetprof/fleetprof/plugins/retry"
)

// registerTimeout bounds the wait for Registered.
const registerTimeout = 30 * time.Second

// controlLoop keeps a control stream open, reconnecting with backoff.
func (c *Client) controlLoop(ctx context.Context) error {
	b := retry.Backoff{Min: c.opts.MinBackoff, Max: c.opts.MaxBackoff}
	for {
		registered, err := c.control(ctx)
		c.opts.Metrics.SetConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		if registered {
			b.Reset()
		}
		d := b.Next()
		c.log.Warn("control stream ended; reconnecting", "err", err, "after", d.String())
		if err := retry.Sleep(ctx, d); err != nil {
			return nil
		}
	}
}

// control runs one control stream until it fails. It reports whether the
// agent got registered.
func (c *Client) control(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Control(ctx)
	if err != nil {
		return false, fmt.Errorf("open control stream: %w", err)
	}
	reg := c.opts.Register()
	reg.AgentId = c.opts.AgentID
	reg.PendingCaptures = c.opts.Spool.IDs()
	if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: reg}}); err != nil {
		return false, fmt.Errorf("send register: %w", err)
	}
	first := make(chan *agentv1.ControlResponse, 1)
	recvErr := make(chan error, 1)
	go func() {
		m, err := stream.Recv()
		if err != nil {
			recvErr <- err
			return
		}
		first <- m
	}()
	var resp *agentv1.ControlResponse
	select {
	case resp = <-first:
	case err := <-recvErr:
		return false, fmt.Errorf("wait for registered: %w", err)
	case <-time.After(registerTimeout):
		cancel()
		return false, ErrNotRegistered
	case <-ctx.Done():
		return false, ctx.Err()
	}
	registered := resp.GetRegistered()
	if registered == nil {
		return false, fmt.Errorf("%w: got %T first", ErrNotRegistered, resp.GetMsg())
	}
	c.opts.Metrics.SetConnected(true)
	interval := time.Duration(registered.GetHeartbeatIntervalMs()) * time.Millisecond
	if interval <= 0 {
		interval = 10 * time.Second
	}
	interval = max(interval, 100*time.Millisecond)
	c.log.Info("registered with the collector", "agent_id", c.opts.AgentID, "heartbeat", interval.String(),
		"pending", len(reg.PendingCaptures), "already_committed", len(registered.GetCommitted()))
	for _, id := range registered.GetCommitted() {
		c.committed(id)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.NewTicker(interval)
		defer t.Stop()
		beat := func() error {
			hb := c.opts.Heartbeat()
			hb.SpoolBytes = c.opts.Spool.Size()
			if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: hb}}); err != nil {
				return fmt.Errorf("send heartbeat: %w", err)
			}
			return nil
		}
		// A first heartbeat at once, so the collector knows the server's
		// health and the spool without waiting an interval.
		if err := beat(); err != nil {
			return err
		}
		for {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-t.C:
				if err := beat(); err != nil {
					return err
				}
			case <-c.opts.BeatNow:
				if err := beat(); err != nil {
					return err
				}
			case p := <-c.progress:
				if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Progress{Progress: p}}); err != nil {
					c.Progress(p) // keep it for the next stream
					return fmt.Errorf("send progress: %w", err)
				}
			}
		}
	})
	g.Go(func() error {
		for {
			m, err := stream.Recv()
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			switch msg := m.GetMsg().(type) {
			case *agentv1.ControlResponse_Capture:
				c.log.Info("capture command", "capture_id", msg.Capture.GetCaptureId(), "trigger", msg.Capture.GetTrigger())
				c.opts.Handler.Capture(msg.Capture)
			case *agentv1.ControlResponse_Cancel:
				c.opts.Handler.Cancel(msg.Cancel.GetCaptureId())
			case *agentv1.ControlResponse_Registered:
				for _, id := range msg.Registered.GetCommitted() {
					c.committed(id)
				}
			}
		}
	})
	return true, g.Wait()
}

// committed drops a capture the collector holds: once, whichever of the
// control stream and the upload learns it first.
func (c *Client) committed(id string) {
	c.finishMu.Lock()
	defer c.finishMu.Unlock()
	m, ok := c.opts.Spool.Get(id)
	if !ok {
		return
	}
	if c.opts.OnCommitted != nil {
		c.opts.OnCommitted(m)
	}
	if err := c.opts.Spool.Remove(id); err != nil {
		c.log.Warn("remove a committed capture from the spool", "capture_id", id, "err", err)
	}
}
