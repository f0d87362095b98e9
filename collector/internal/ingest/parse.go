package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// errAborted ends a parse whose upload stream broke.
var errAborted = errors.New("ingest: upload aborted")

// parser hashes and parses an upload's bytes as they are staged, on its own
// goroutine, so that UploadEnd waits only for the tail instead of the whole
// capture.
type parser struct {
	pw   *io.PipeWriter
	done chan parsed
	// over is closed when the capture passed the decoding limits; limitErr
	// (set before) says which.
	over     chan struct{}
	limitErr error
}

// parsed is what parsing an upload's bytes yields.
type parsed struct {
	sum     []byte
	capture *capture.Capture // the header and planes; events are only counted
	tally   fpcap.Tally      // what it holds, events included (tally.Events are the events kept)
	err     error            // the .fpcap does not parse
	readErr error            // the bytes did not all arrive (aborted)
}

// startParse starts parsing an upload; bytes already staged (a resumed
// upload) are read first.
func (in *Ingest) startParse(ctx context.Context, u *store.Upload) (*parser, error) {
	var staged bytes.Buffer
	if u.NextOffset > 0 {
		err := in.cfg.Store.View(ctx, func(r *store.Reader) error {
			_, err := r.WriteStaged(u.CaptureID, &staged)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read staged bytes of %s: %w", u.CaptureID, err)
		}
	}
	pr, pw := io.Pipe()
	p := &parser{pw: pw, done: make(chan parsed, 1), over: make(chan struct{})}
	go func() { // owned: ends when the pipe's writer closes (finish or abort)
		h := sha256.New()
		src := io.TeeReader(io.LimitReader(io.MultiReader(&staged, pr), in.cfg.MaxCaptureBytes), h)
		// Only the header, the planes and the tally (the count of events
		// for the summary, the counts the analysis checks against the
		// plugins' limits) are needed: the events are checked and counted
		// but not decoded, so an upload holds no capture in memory whatever
		// its size, and nothing reads the capture again before the plugins.
		tally, c, err := fpcap.ReadTally(src, fpcap.Options{Limits: in.cfg.Limits, SkipEvents: true})
		if errors.Is(err, fpcap.ErrLimit) {
			p.limitErr = err
			close(p.over)
		}
		_, rerr := io.Copy(io.Discard, src) // hash the rest, if any
		pr.CloseWithError(errAborted)
		p.done <- parsed{sum: h.Sum(nil), capture: c, tally: tally, err: err, readErr: rerr}
	}()
	return p, nil
}

// feed passes staged bytes on. It blocks while the parser is behind, which
// slows the upload to the speed the collector can check it at.
func (p *parser) feed(b []byte) {
	_, _ = p.pw.Write(b) // fails only once the parser is done; finish reports why
}

// overLimit returns the parse's ErrLimit once the bytes fed so far took the
// capture past the decoding limits, else nil; it does not wait.
func (p *parser) overLimit() error {
	select {
	case <-p.over:
		return p.limitErr
	default:
		return nil
	}
}

// finish waits for the parse of every byte fed.
func (p *parser) finish() parsed {
	p.pw.Close()
	return <-p.done
}

// abort stops the parse and waits for its goroutine.
func (p *parser) abort() {
	p.pw.CloseWithError(errAborted)
	<-p.done
}
