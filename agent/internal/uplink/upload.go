package uplink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// uploadLoop uploads spooled captures, oldest first, retrying with backoff.
func (c *Client) uploadLoop(ctx context.Context) error {
	b := backoff{min: c.opts.MinBackoff, max: c.opts.MaxBackoff}
	for {
		failed := false
		for _, m := range c.opts.Spool.List() {
			if ctx.Err() != nil {
				return nil
			}
			err := c.Upload(ctx, m.CaptureID)
			switch {
			case err == nil:
				b.reset()
			case errors.Is(err, spool.ErrNotFound):
				// Dropped or committed meanwhile.
			case ctx.Err() != nil:
				return nil
			default:
				c.log.Warn("upload failed; will resume", "capture_id", m.CaptureID, "err", err)
				failed = true
			}
			if failed {
				break
			}
		}
		if failed {
			if err := sleep(ctx, b.next()); err != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.opts.Spool.Ready():
		}
	}
}

// Upload sends one spooled capture, from where the collector says to
// resume, and removes it from the spool once committed.
func (c *Client) Upload(ctx context.Context, id string) error {
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
	return nil
}

// send runs one upload stream; it returns the collector's last next_seq.
func (c *Client) send(ctx context.Context, f *os.File, meta spool.Meta) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sum, err := hex.DecodeString(meta.SHA256)
	if err != nil {
		return 0, fmt.Errorf("bad sha256 in the spool sidecar: %w", err)
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
	return sleep(ctx, c.opts.UploadPause)
}
