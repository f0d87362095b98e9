package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// parser hashes and parses an upload's bytes as they are staged, on the
// upload's own goroutine, so that UploadEnd waits only for the last chunk's
// records instead of the whole capture. Records are read from the chunks
// themselves (fpcap.Parser): nothing is copied but a record split between
// two chunks.
//
// Only the header, the planes and the tally (the count of events for the
// summary, the counts analysis checks against the plugins' limits) are
// kept: the events are checked and counted but not decoded, so an upload
// holds no capture in memory whatever its size, and nothing reads the
// capture again before the plugins.
type parser struct {
	sum  hash.Hash
	fp   *fpcap.Parser
	left int64 // bytes still taken: MaxCaptureBytes minus those fed
}

// parsed is what parsing an upload's bytes yields.
type parsed struct {
	sum     []byte
	capture *capture.Capture // the header and planes; events are only counted
	tally   fpcap.Tally      // what it holds, events included (tally.Events are the events kept)
	err     error            // the .fpcap does not parse
}

// startParse starts parsing an upload; bytes already staged (a resumed
// upload) are parsed first.
func (in *Ingest) startParse(ctx context.Context, u *store.Upload) (*parser, error) {
	p := &parser{
		sum:  sha256.New(),
		fp:   fpcap.NewParser(fpcap.Options{Limits: in.cfg.Limits, SkipEvents: true}),
		left: in.cfg.MaxCaptureBytes,
	}
	if u.NextOffset > 0 {
		var staged bytes.Buffer
		err := in.cfg.Store.View(ctx, func(r *store.Reader) error {
			_, err := r.WriteStaged(u.CaptureID, &staged)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read staged bytes of %s: %w", u.CaptureID, err)
		}
		p.feed(staged.Bytes())
	}
	return p, nil
}

// feed hashes and parses the next staged bytes; it does not keep b.
func (p *parser) feed(b []byte) {
	b = b[:min(int64(len(b)), max(p.left, 0))]
	p.left -= int64(len(b))
	p.sum.Write(b)
	_, _ = p.fp.Write(b) // the error stays with the parser: overLimit and finish report it
}

// overLimit returns the parse's ErrLimit once the bytes fed so far took the
// capture past the decoding limits, else nil.
func (p *parser) overLimit() error {
	if err := p.fp.Err(); errors.Is(err, fpcap.ErrLimit) {
		return err
	}
	return nil
}

// finish ends the parse of every byte fed.
func (p *parser) finish() parsed {
	tally, c, err := p.fp.Close()
	return parsed{sum: p.sum.Sum(nil), capture: c, tally: tally, err: err}
}
