package trim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file holds the first pass's records. Each event has one, written
// when its self time is known (at once, for a line out of order). They are
// varints, delta-coded, in chunks of chunkRecords: a chunk notes the time
// its events cover, so that Finish skips, without decoding them, the chunks
// that meet no window — most of them, since a source's events come line by
// line in time order. Events longer than longDur would stretch their
// chunk's extent over everything: their records are held in memory instead
// (up to maxLong of them; past that they mark their chunk as one to read).
// The count, total and self time of every name are summed as records are
// written; Finish takes the kept events back out.

// Sizes of the records' layout.
const (
	chunkRecords = 1024
	longDur      = 10 * capture.Millisecond
	maxLong      = 1 << 16
)

// record is one index record: an event's place, times and Ref, and its
// position in the source's order (seq).
type record struct {
	line  int
	name  uint32
	start int64
	dur   int64
	self  int64 // for a line that stayed sorted; else Finish computes it
	ref   capture.Ref
	seq   int64
}

// chunk describes a run of records in the spill.
type chunk struct {
	bytes   int64 // encoded size
	records int
	// minStart and maxEnd bound the events of the chunk.
	minStart, maxEnd int64
	// must means Finish reads the chunk whatever its extent: it holds a
	// long event or a record of a line out of order.
	must bool
}

// recordFields is the number of varints in a record; maxRecord bounds one
// encoded record.
const (
	recordFields = 8
	maxRecord    = recordFields * binary.MaxVarintLen64
)

// write adds one record of line ls.
func (x *Indexer) write(ls *lineState, rec *record, self int64) {
	if x.err != nil {
		return
	}
	t := &x.totals[rec.name]
	t.Count++
	t.Total += rec.dur
	t.Self += self
	long := rec.dur > longDur
	if long && len(x.long) < maxLong {
		l := *rec
		l.self = self
		x.long = append(x.long, l)
		return
	}
	if x.inChunk == 0 {
		x.chunks = append(x.chunks, chunk{minStart: math.MaxInt64, maxEnd: math.MinInt64})
		x.prevStart, x.prevRefEnd, x.prevSeq = 0, 0, 0
	}
	c := &x.chunks[len(x.chunks)-1]
	c.minStart = min(c.minStart, rec.start)
	c.maxEnd = max(c.maxEnd, rec.start+rec.dur)
	if long || !ls.sorted {
		c.must = true
	}
	if ls.firstChunk < 0 {
		ls.firstChunk = len(x.chunks) - 1
	}
	r := x.buf
	n0 := len(r)
	r = binary.AppendUvarint(r, uint64(rec.line))
	r = binary.AppendUvarint(r, uint64(rec.name))
	r = binary.AppendVarint(r, rec.start-x.prevStart)
	r = binary.AppendUvarint(r, uint64(rec.dur))
	r = binary.AppendVarint(r, self)
	r = binary.AppendVarint(r, rec.ref.Off-x.prevRefEnd)
	r = binary.AppendUvarint(r, uint64(rec.ref.Len))
	r = binary.AppendVarint(r, rec.seq-x.prevSeq)
	x.prevStart, x.prevRefEnd, x.prevSeq = rec.start, rec.ref.Off+rec.ref.Len, rec.seq
	x.buf = r
	n := int64(len(r) - n0)
	x.nbytes += n
	c.bytes += n
	c.records++
	if x.inChunk++; x.inChunk == chunkRecords {
		x.inChunk = 0
	}
	if len(r) >= spillBuf {
		x.flush()
	}
}

// spillBuf is how many bytes of records are gathered before they are
// written to the spill. Small, for each fresh page of a short command's
// heap costs a fault (10-40 µs on a VM), more than the write system calls a
// larger buffer saves.
const spillBuf = 256 << 10

// readBuf is the record reader's buffer; see spillBuf.
const readBuf = 256 << 10

// flush writes the gathered records to the spill.
func (x *Indexer) flush() {
	if x.err != nil || len(x.buf) == 0 {
		return
	}
	if _, err := x.spill.Write(x.buf); err != nil {
		x.err = fmt.Errorf("trim: write spill: %w", err)
	}
	x.buf = x.buf[:0]
}

// mustRead marks every chunk that may hold a record of ls as one Finish
// reads.
func (x *Indexer) mustRead(ls *lineState) {
	if ls.firstChunk < 0 {
		return
	}
	for i := ls.firstChunk; i < len(x.chunks); i++ {
		x.chunks[i].must = true
	}
}

// eachRecord calls fn for every record: the spill's chunks in order, then
// the long events. The record is reused between calls.
func (x *Indexer) eachRecord(fn func(r *record) error) error {
	in, err := x.spill.Rewind()
	if err != nil {
		return fmt.Errorf("trim: rewind spill: %w", err)
	}
	rr := newRecordReader(in)
	var rec record
	for ci := range x.chunks {
		if err := rr.chunk(&x.chunks[ci], fn, &rec); err != nil {
			return err
		}
	}
	for i := range x.long {
		if err := fn(&x.long[i]); err != nil {
			return err
		}
	}
	return nil
}

// recordReader decodes records in the order they were written, from large
// blocks of the spill.
type recordReader struct {
	r          io.Reader
	buf        []byte
	pos, end   int
	eof        bool
	read       int64 // bytes consumed
	prevStart  int64
	prevRefEnd int64
	prevSeq    int64
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: r, buf: make([]byte, readBuf)}
}

// fill makes at least want bytes available unless the spill ends.
func (rr *recordReader) fill(want int) error {
	if rr.end-rr.pos >= want || rr.eof {
		return nil
	}
	rr.end = copy(rr.buf, rr.buf[rr.pos:rr.end])
	rr.pos = 0
	for rr.end < want && !rr.eof {
		n, err := rr.r.Read(rr.buf[rr.end:])
		rr.end += n
		if err == io.EOF {
			rr.eof = true
		} else if err != nil {
			return fmt.Errorf("trim: read spill: %w", err)
		}
	}
	return nil
}

// skip discards n bytes.
func (rr *recordReader) skip(n int64) error {
	for n > 0 {
		if rr.pos == rr.end {
			if err := rr.fill(len(rr.buf)); err != nil {
				return err
			}
			if rr.pos == rr.end {
				return fmt.Errorf("%w: spill ended %d bytes early", ErrBadRecord, n)
			}
		}
		k := min(n, int64(rr.end-rr.pos))
		rr.pos += int(k)
		rr.read += k
		n -= k
	}
	return nil
}

// chunk decodes the records of c, calling fn with each (in rec, reused).
func (rr *recordReader) chunk(c *chunk, fn func(r *record) error, rec *record) error {
	rr.prevStart, rr.prevRefEnd, rr.prevSeq = 0, 0, 0
	start := rr.read
	for range c.records {
		if err := rr.next(rec); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: spill ended inside a chunk", ErrBadRecord)
			}
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if rr.read-start != c.bytes {
		return fmt.Errorf("%w: a chunk of %d bytes read as %d", ErrBadRecord, c.bytes, rr.read-start)
	}
	return nil
}

func (rr *recordReader) next(rec *record) error {
	if err := rr.fill(maxRecord); err != nil {
		return err
	}
	if rr.pos == rr.end {
		return io.EOF
	}
	b := rr.buf[rr.pos:rr.end]
	var vals [recordFields]uint64
	off := 0
	for i := range vals {
		// Most values fit in one byte.
		if off < len(b) && b[off] < 0x80 {
			vals[i] = uint64(b[off])
			off++
			continue
		}
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("%w: bad varint at record byte %d", ErrBadRecord, off)
		}
		vals[i] = v
		off += n
	}
	rr.pos += off
	rr.read += int64(off)
	zigzag := func(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
	rec.line = int(vals[0])
	rec.name = uint32(vals[1])
	rec.start = rr.prevStart + zigzag(vals[2])
	rec.dur = int64(vals[3])
	rec.self = zigzag(vals[4])
	rec.ref = capture.Ref{Off: rr.prevRefEnd + zigzag(vals[5]), Len: int64(vals[6])}
	rec.seq = rr.prevSeq + zigzag(vals[7])
	rr.prevStart, rr.prevRefEnd, rr.prevSeq = rec.start, rec.ref.Off+rec.ref.Len, rec.seq
	return nil
}
