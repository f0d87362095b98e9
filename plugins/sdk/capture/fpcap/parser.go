package fpcap

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// Parser reads an .fpcap file from the bytes written to it, in pieces of
// any size, as they arrive: each record is checked and added as soon as its
// last byte is written, from the written bytes themselves (only a record
// split across writes is copied, to join its parts). It reads what
// ReadWith reads and fails where ReadWith fails; bytes after the footer are
// ignored.
type Parser struct {
	b     *Builder
	off   int64  // bytes taken so far
	magic []byte // the magic bytes so far, until complete
	carry []byte // a record (and its length) split across writes, so far
	err   error
}

// NewParser returns a Parser with o's limits and choices.
func NewParser(o Options) *Parser {
	return &Parser{b: NewBuilderWith(o), magic: make([]byte, 0, len(Magic))}
}

// Write parses the next bytes of the file. It always takes all of p; the
// error, once there is one, is the parse's (and Err's): a capture past the
// limits fails (ErrLimit) at the first record past them. p is not kept.
func (p *Parser) Write(data []byte) (int, error) {
	n := len(data)
	for len(data) > 0 && p.err == nil && !p.b.Done() {
		if len(p.magic) < len(Magic) {
			k := min(len(Magic)-len(p.magic), len(data))
			p.magic = append(p.magic, data[:k]...)
			data = data[k:]
			p.off += int64(k)
			if len(p.magic) == len(Magic) && string(p.magic) != Magic {
				p.err = ErrNotFpcap
			}
			continue
		}
		if len(p.carry) > 0 {
			data = p.join(data)
			continue
		}
		size, k, err := p.length(data)
		if err != nil {
			p.err = err
			break
		}
		if k == 0 || uint64(len(data)-k) < size {
			p.carry = append(p.carry, data...) // the rest comes in the next writes
			break
		}
		p.add(data[k : k+int(size)])
		data = data[k+int(size):]
	}
	return n, p.err
}

// join adds data's first bytes to the split record held in carry, adds the
// record once it is whole, and returns the rest of data.
func (p *Parser) join(data []byte) []byte {
	size, k, err := p.length(p.carry)
	if err != nil {
		p.err = err
		return nil
	}
	if k == 0 { // the length itself is split: one more byte
		p.carry = append(p.carry, data[0])
		return data[1:]
	}
	need := min(k+int(size)-len(p.carry), len(data))
	p.carry = append(p.carry, data[:need]...)
	if len(p.carry) == k+int(size) {
		p.add(p.carry[k:])
		p.carry = p.carry[:0]
	}
	return data[need:]
}

// length reads a record's length at the start of b: its value and its own
// size, or a size of 0 when b ends inside it.
func (p *Parser) length(b []byte) (uint64, int, error) {
	size, k := protowire.ConsumeVarint(b)
	if k < 0 {
		if len(b) < binary.MaxVarintLen64 {
			return 0, 0, nil
		}
		return 0, 0, fmt.Errorf("%w: record length at byte %d: %v", ErrMalformed, p.off, protowire.ParseError(k))
	}
	if size > MaxRecordBytes {
		return 0, 0, fmt.Errorf("%w: record at byte %d claims %d bytes", ErrTooLarge, p.off, size)
	}
	return size, k, nil
}

// add adds one whole record.
func (p *Parser) add(wire []byte) {
	at := p.off
	p.off += int64(protowire.SizeVarint(uint64(len(wire))) + len(wire))
	if err := p.b.addWire(wire); err != nil {
		p.err = fmt.Errorf("record at byte %d: %w", at, err)
	}
}

// Err returns the parse's error so far, if any.
func (p *Parser) Err() error { return p.err }

// Close ends the input and returns the capture and what it holds as the
// limits count it (its Events are the events kept), or why it does not
// parse: ErrTruncated if the input ended before the footer.
func (p *Parser) Close() (Tally, *capture.Capture, error) {
	switch {
	case p.err != nil:
		return Tally{}, nil, p.err
	case len(p.magic) < len(Magic):
		return Tally{}, nil, ErrNotFpcap
	case !p.b.Done():
		return Tally{}, nil, ErrTruncated
	}
	c, err := p.b.Capture()
	if err != nil {
		return Tally{}, nil, err
	}
	return p.b.Tally(), c, nil
}

// addWire checks and adds the next record from its wire form: counted from
// it where the Builder keeps no events, else decoded and added.
func (b *Builder) addWire(wire []byte) error {
	if err := b.Admit(wire); err != nil {
		return err
	}
	if b.addEventsWire(wire) {
		return nil
	}
	rec := &capturev1.Record{}
	if err := proto.Unmarshal(wire, rec); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b.Add(rec)
}
