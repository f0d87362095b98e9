package uplink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"

	"github.com/fleetprof/fleetprof/plugins/retry"
)

// uploadLoop uploads spooled captures, oldest first. A capture the
// collector refuses for good goes to the spool's rejected folder and the
// loop goes on; one whose attempt failed otherwise backs off on its own
// while the later ones go ahead; when the collector takes nothing at all
// (unreachable, busy, out of storage) every upload backs off.
func (c *Client) uploadLoop(ctx context.Context) error {
	all := retry.Backoff{Min: c.opts.MinBackoff, Max: c.opts.MaxBackoff}
	pending := map[string]*retryAt{}
	for {
		down := false
		now := time.Now()
		var soonest time.Time
		entries := c.opts.Spool.List()
		for _, m := range entries {
			if ctx.Err() != nil {
				return nil
			}
			r := pending[m.CaptureID]
			if r != nil && now.Before(r.at) {
				if soonest.IsZero() || r.at.Before(soonest) {
					soonest = r.at
				}
				continue
			}
			err := c.Upload(ctx, m.CaptureID)
			if err == nil || errors.Is(err, spool.ErrNotFound) { // done, or dropped meanwhile
				delete(pending, m.CaptureID)
				all.Reset()
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			switch v, why := c.classify(m.CaptureID, err); v {
			case reject:
				delete(pending, m.CaptureID)
				c.reject(m, err, why)
			case retryAll:
				c.opts.Metrics.UploadFailed(status.Code(err).String())
				c.log.Warn("upload failed; the collector takes no uploads now: backing off", "capture_id", m.CaptureID, "err", err)
				down = true
			default:
				c.opts.Metrics.UploadFailed(status.Code(err).String())
				if r == nil {
					r = &retryAt{b: retry.Backoff{Min: c.opts.MinBackoff, Max: c.opts.MaxBackoff}}
					pending[m.CaptureID] = r
				}
				d := r.b.Next()
				r.at = time.Now().Add(d)
				if soonest.IsZero() || r.at.Before(soonest) {
					soonest = r.at
				}
				c.log.Warn("upload failed; will resume", "capture_id", m.CaptureID, "err", err, "after", d.String())
			}
			if down {
				break
			}
		}
		for id := range pending { // forget captures gone from the spool
			if !slices.ContainsFunc(entries, func(m spool.Meta) bool { return m.CaptureID == id }) {
				delete(pending, id)
			}
		}
		if down {
			if err := retry.Sleep(ctx, all.Next()); err != nil {
				return nil
			}
			continue
		}
		var wake <-chan time.Time
		var t *time.Timer
		if !soonest.IsZero() {
			t = time.NewTimer(time.Until(soonest))
			wake = t.C
		}
		select {
		case <-ctx.Done():
		case <-c.opts.Spool.Ready():
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// retryAt is when a capture's next upload attempt is due.
type retryAt struct {
	b  retry.Backoff
	at time.Time
}

// Upload sends one spooled capture, from where the collector says to
// resume, and removes it from the spool once committed. The first attempt
// in this process checks the spool file against its sidecar's SHA-256
// (spool.ErrCorrupt when it changed on disk).
func (c *Client) Upload(ctx context.Context, id string) error {
	if !c.isVerified(id) {
		if err := c.opts.Spool.Verify(id); err != nil {
			return fmt.Errorf("upload %s: %w", id, err)
		}
		c.setVerified(id, true)
	}
	f, meta, err := c.opts.Spool.Open(id)
	if err != nil {
		return err
	}
	defer f.Close()
	_ = c.opts.Spool.Update(id, func(m *spool.Meta) { m.Attempts++ })
	next, err := c.send(ctx, f, meta)
	if next > meta.NextSeq {
		_ = c.opts.Spool.Update(id, func(m *spool.Meta) { m.NextSeq = next })
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", id, err)
	}
	c.log.Info("capture committed by the collector", "capture_id", id, "bytes", meta.Bytes)
	c.committed(id)
	c.setVerified(id, false)
	return nil
}

// send runs one upload stream; it returns the collector's last next_seq.
func (c *Client) send(ctx context.Context, f *os.File, meta spool.Meta) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sum, err := hex.DecodeString(meta.SHA256)
	if err != nil {
		return 0, fmt.Errorf("%w: bad sha256 in the sidecar: %v", spool.ErrCorrupt, err)
	}
	stream, err := c.api.Upload(ctx)
	if err != nil {
		return 0, fmt.Errorf("open upload stream: %w", err)
	}
	start := &agentv1.UploadStart{CaptureId: meta.CaptureID, AgentId: c.opts.AgentID, Chunks: meta.Chunks,
		Bytes: meta.Bytes, Sha256: sum}
	if err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: start}}); err != nil {
		return 0, fmt.Errorf("send start: %w", recvCause(stream, err))
	}
	first, err := stream.Recv()
	if err != nil {
		return 0, fmt.Errorf("wait for the resume point: %w", err)
	}
	if first.GetCommitted() {
		return meta.Chunks, nil
	}
	next := first.GetNextSeq()
	if next < 0 || next > meta.Chunks {
		return 0, fmt.Errorf("the collector asked to resume at chunk %d of %d", next, meta.Chunks)
	}
	if next > 0 {
		c.log.Info("resuming upload", "capture_id", meta.CaptureID, "next_seq", next, "chunks", meta.Chunks)
	}

	// Acknowledgements arrive on their own goroutine.
	type ack struct {
		next      int64
		committed bool
		err       error
	}
	acks := make(chan ack, 16)
	go func() {
		for {
			r, err := stream.Recv()
			a := ack{err: err}
			if err == nil {
				a = ack{next: r.GetNextSeq(), committed: r.GetCommitted()}
			}
			select {
			case acks <- a:
			case <-ctx.Done():
				return
			}
			if err != nil || a.committed {
				return
			}
		}
	}()
	// sendErr finds the stream's real error when Send reports io.EOF.
	sendErr := func(err error) error {
		if !errors.Is(err, io.EOF) {
			return err
		}
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case a := <-acks:
				if a.err != nil {
					return a.err
				}
			case <-t.C:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	acked := next
	handle := func(a ack) (bool, error) {
		if a.err != nil {
			if errors.Is(a.err, io.EOF) {
				return false, ErrRejected
			}
			return false, a.err
		}
		acked = max(acked, a.next)
		return a.committed, nil
	}
	wait := func() (bool, error) {
		t := time.NewTimer(c.opts.AckTimeout)
		defer t.Stop()
		select {
		case a := <-acks:
			return handle(a)
		case <-t.C:
			return false, ErrStalled
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}

	for seq := next; seq < meta.Chunks; seq++ {
		for seq-acked >= int64(c.opts.Window) {
			if done, err := wait(); err != nil || done {
				return acked, err
			}
		}
		if err := c.pause(ctx); err != nil {
			return acked, err
		}
		// A fresh buffer per chunk: a sent message is never touched again.
		off := seq * spool.ChunkSize
		n := min(int64(spool.ChunkSize), meta.Bytes-off)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil {
			c.setVerified(meta.CaptureID, false) // the next attempt checks the file again
			return acked, fmt.Errorf("read spooled chunk %d: %w", seq, err)
		}
		chunk := &agentv1.UploadChunk{Seq: seq, Offset: off, Data: buf}
		if err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: chunk}}); err != nil {
			return acked, fmt.Errorf("send chunk %d: %w", seq, sendErr(err))
		}
		c.opts.Metrics.Uploaded(int(n))
	}
	if err := c.pause(ctx); err != nil {
		return acked, err
	}
	end := &agentv1.UploadEnd{Chunks: meta.Chunks}
	if err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: end}}); err != nil {
		return acked, fmt.Errorf("send end: %w", sendErr(err))
	}
	for {
		done, err := wait()
		if err != nil {
			return acked, err
		}
		if done {
			_ = stream.CloseSend()
			return meta.Chunks, nil
		}
	}
}

// recvCause returns the stream's real error when Send reports io.EOF.
func recvCause(stream interface{ RecvMsg(any) error }, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	var r agentv1.UploadResponse
	if rerr := stream.RecvMsg(&r); rerr != nil && !errors.Is(rerr, io.EOF) {
		return rerr
	}
	return err
}

// pause waits Options.UploadPause (a test knob), or returns ctx's error.
func (c *Client) pause(ctx context.Context) error {
	if c.opts.UploadPause <= 0 {
		return nil
	}
	return retry.Sleep(ctx, c.opts.UploadPause)
}
