// Package fpcap reads and writes fleetprof's own capture format: a stream of
// fleetprof.capture.v1.Record messages. An .fpcap file is the magic bytes
// followed by the records, each prefixed by its length as a varint; the same
// records travel in upload chunks and to analyzer plugins.
package fpcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// Magic starts every .fpcap file.
const Magic = "FPCAP\x00\x01\n"

// FormatVersion is the version written in headers.
const FormatVersion = 1

// MaxRecordBytes bounds one record, on reading and writing.
const MaxRecordBytes = 16 << 20

// batchBytes is the size past which an event batch is cut.
const batchBytes = 1 << 20

// Errors.
var (
	// ErrNotFpcap means the input does not start with the .fpcap magic.
	ErrNotFpcap = errors.New("fpcap: not an .fpcap file (bad magic)")
	// ErrMalformed means a record or the record sequence is broken.
	ErrMalformed = errors.New("fpcap: malformed capture")
	// ErrTruncated means the input ended before the footer.
	ErrTruncated = errors.New("fpcap: truncated capture (no footer): the file was cut short; copy it again")
	// ErrTooLarge means a record is larger than MaxRecordBytes.
	ErrTooLarge = errors.New("fpcap: record too large")
)

// Records calls emit for each record of c, in order: the header, each plane,
// its events in batches under about 1 MiB, the dropped summaries, the footer.
// emit must not keep the record after it returns.
func Records(c *capture.Capture, emit func(*capturev1.Record) error) error {
	n := int64(0)
	send := func(r *capturev1.Record) error {
		n++
		return emit(r)
	}
	if err := send(&capturev1.Record{Kind: &capturev1.Record_Header{Header: header(c)}}); err != nil {
		return err
	}
	var kept int64
	for pi, p := range c.Planes {
		if err := send(&capturev1.Record{Kind: &capturev1.Record_Plane{Plane: plane(pi, p)}}); err != nil {
			return err
		}
		for li, l := range p.Lines {
			batch := &capturev1.EventBatch{Plane: int32(pi), Line: int32(li)}
			size := 0
			for i := range l.Events {
				e := event(&l.Events[i])
				batch.Events = append(batch.Events, e)
				size += proto.Size(e) + 4
				kept++
				if size >= batchBytes {
					if err := send(&capturev1.Record{Kind: &capturev1.Record_Events{Events: batch}}); err != nil {
						return err
					}
					batch = &capturev1.EventBatch{Plane: int32(pi), Line: int32(li)}
					size = 0
				}
			}
			if len(batch.Events) > 0 {
				if err := send(&capturev1.Record{Kind: &capturev1.Record_Events{Events: batch}}); err != nil {
					return err
				}
			}
		}
	}
	const dropRows = 8192
	for i := 0; i < len(c.Dropped); i += dropRows {
		b := &capturev1.DroppedBatch{}
		for _, d := range c.Dropped[i:min(i+dropRows, len(c.Dropped))] {
			b.Rows = append(b.Rows, &capturev1.Dropped{
				Plane: int32(d.Plane), Line: int32(d.Line), Name: d.Name,
				Count: d.Count, TotalPs: d.Total, SelfPs: d.Self,
			})
		}
		if err := send(&capturev1.Record{Kind: &capturev1.Record_Dropped{Dropped: b}}); err != nil {
			return err
		}
	}
	return send(&capturev1.Record{Kind: &capturev1.Record_Footer{Footer: &capturev1.Footer{EventsKept: kept, Records: n}}})
}

// Write writes c to w as an .fpcap file.
func Write(w io.Writer, c *capture.Capture) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(Magic); err != nil {
		return fmt.Errorf("write fpcap: %w", err)
	}
	var buf []byte
	err := Records(c, func(r *capturev1.Record) error {
		var err error
		buf, err = proto.MarshalOptions{Deterministic: true}.MarshalAppend(buf[:0], r)
		if err != nil {
			return fmt.Errorf("marshal record: %w", err)
		}
		if len(buf) > MaxRecordBytes {
			return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(buf))
		}
		if _, err := bw.Write(protowire.AppendVarint(nil, uint64(len(buf)))); err != nil {
			return err
		}
		_, err = bw.Write(buf)
		return err
	})
	if err != nil {
		return fmt.Errorf("write fpcap: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write fpcap: %w", err)
	}
	return nil
}

// Read reads an .fpcap file within the default Limits.
func Read(r io.Reader) (*capture.Capture, error) { return ReadWith(r, Options{}) }

// ReadWith reads an .fpcap file with o's limits and choices. Each record is
// checked against the limits before it is decoded, so a capture past them
// fails with ErrLimit having cost at most one record.
func ReadWith(r io.Reader, o Options) (*capture.Capture, error) {
	_, c, err := read(r, o, false)
	return c, err
}

// ReadCount is ReadWith that also returns how many events the capture
// keeps, which o.SkipEvents leaves out of the capture itself.
func ReadCount(r io.Reader, o Options) (int64, *capture.Capture, error) { return read(r, o, false) }

// ReadTally is ReadWith that also returns what the capture holds as the
// limits count it (its Events are the events kept), for a caller that
// checks it against other limits later without reading it again.
func ReadTally(r io.Reader, o Options) (Tally, *capture.Capture, error) {
	b := NewBuilderWith(o)
	_, c, err := readInto(r, b, false)
	if err != nil {
		return Tally{}, nil, err
	}
	return b.Tally(), c, nil
}

// ReadHeader reads an .fpcap file's header only, within the default Limits:
// the capture it returns has the header's fields (base time, span, windows,
// context, requests, ...) and no planes. It reads no further than the
// header's record.
func ReadHeader(r io.Reader) (*capture.Capture, error) {
	_, c, err := read(r, Options{}, true)
	return c, err
}

func read(r io.Reader, o Options, headerOnly bool) (int64, *capture.Capture, error) {
	return readInto(r, NewBuilderWith(o), headerOnly)
}

func readInto(r io.Reader, b *Builder, headerOnly bool) (int64, *capture.Capture, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != Magic {
		return 0, nil, ErrNotFpcap
	}
	off := int64(len(Magic))
	var buf []byte
	for !b.Done() {
		n, err := readUvarint(br)
		if err == io.EOF {
			return 0, nil, ErrTruncated
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%w: record length at byte %d: %v", ErrMalformed, off, err)
		}
		if n > MaxRecordBytes {
			return 0, nil, fmt.Errorf("%w: record at byte %d claims %d bytes", ErrTooLarge, off, n)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return 0, nil, ErrTruncated
		}
		at := off
		off += int64(protowire.SizeVarint(n)) + int64(n)
		if err := b.addWire(buf); err != nil {
			return 0, nil, fmt.Errorf("record at byte %d: %w", at, err)
		}
		if headerOnly {
			return 0, b.c, nil // the first record is the header
		}
	}
	c, err := b.Capture()
	return b.EventsKept(), c, err
}

// EachRecord calls fn with the wire form of each record of the .fpcap file
// data, in order, through the footer (bytes after it are ignored, as Read
// ignores them): the records Read would decode, without decoding them. It
// checks the magic and the framing, not the records; wire is a part of
// data.
func EachRecord(data []byte, fn func(wire []byte) error) error {
	if len(data) < len(Magic) || string(data[:len(Magic)]) != Magic {
		return ErrNotFpcap
	}
	off := len(Magic)
	for {
		if off == len(data) {
			return ErrTruncated
		}
		n, k := protowire.ConsumeVarint(data[off:])
		if k < 0 {
			if len(data)-off < binary.MaxVarintLen64 {
				return ErrTruncated
			}
			return fmt.Errorf("%w: record length at byte %d: %v", ErrMalformed, off, protowire.ParseError(k))
		}
		if n > MaxRecordBytes {
			return fmt.Errorf("%w: record at byte %d claims %d bytes", ErrTooLarge, off, n)
		}
		if uint64(len(data)-off-k) < n {
			return ErrTruncated
		}
		wire := data[off+k : off+k+int(n)]
		if err := fn(wire); err != nil {
			return err
		}
		if isFooter(wire) {
			return nil
		}
		off += k + int(n)
	}
}

// isFooter tells whether a record's wire form decodes to a footer: of the
// oneof's fields, the last one present is.
func isFooter(wire []byte) bool {
	kind := protowire.Number(0)
	for len(wire) > 0 {
		num, typ, n := protowire.ConsumeTag(wire)
		if n < 0 {
			return false
		}
		wire = wire[n:]
		n = protowire.ConsumeFieldValue(num, typ, wire)
		if n < 0 {
			return false
		}
		wire = wire[n:]
		if num >= 1 && num <= 5 && typ == protowire.BytesType {
			kind = num
		}
	}
	return kind == 5
}

func readUvarint(br *bufio.Reader) (uint64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		c, err := br.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}
