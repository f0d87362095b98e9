package xplane

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// Protobuf wire types, as plain bytes for switch statements on whole tags.
const (
	wireVarint  = byte(protowire.VarintType)
	wireFixed64 = byte(protowire.Fixed64Type)
	wireBytes   = byte(protowire.BytesType)
	wireFixed32 = byte(protowire.Fixed32Type)
)

// maxVarintLen is the longest varint, in bytes.
const maxVarintLen = 10

// scanner reads protobuf fields from an io.ReaderAt through a fixed buffer.
// Every read takes the end offset of the enclosing message and never crosses
// it, so lengths are checked against what is left before anything is
// allocated.
type scanner struct {
	r     io.ReaderAt
	size  int64
	buf   []byte // the whole buffer
	data  []byte // buf[:n]: the file's bytes from start
	start int64  // file offset of data[0]
	pos   int    // read position in data
}

func newScanner(r io.ReaderAt, size int64, bufSize int) *scanner {
	return &scanner{r: r, size: size, buf: make([]byte, bufSize)}
}

// off returns the file offset of the read position.
func (s *scanner) off() int64 { return s.start + int64(s.pos) }

// seek moves the read position to a file offset, keeping the buffer when
// the offset falls inside it.
func (s *scanner) seek(off int64) {
	if rel := off - s.start; rel >= 0 && rel <= int64(len(s.data)) {
		s.pos = int(rel)
		return
	}
	s.start, s.data, s.pos = off, s.buf[:0], 0
}

// fill makes n bytes (n <= len(s.buf)) available at the read position, or
// as many as the file has.
func (s *scanner) fill(n int) error {
	if len(s.data)-s.pos >= n {
		return nil
	}
	have := copy(s.buf, s.data[s.pos:])
	s.start += int64(s.pos)
	s.pos = 0
	want := len(s.buf)
	if left := s.size - s.start; left < int64(want) {
		want = int(max(left, 0))
	}
	for have < want {
		k, err := s.r.ReadAt(s.buf[have:want], s.start+int64(have))
		have += k
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			s.data = s.buf[:have]
			return fmt.Errorf("xplane: read at byte %d: %w", s.start+int64(have), err)
		}
		if k == 0 {
			break
		}
	}
	s.data = s.buf[:have]
	return nil
}

// uvarint reads a varint that must end before end.
func (s *scanner) uvarint(end int64) (uint64, error) {
	if s.pos < len(s.data) && s.start+int64(s.pos) < end {
		if b := s.data[s.pos]; b < 0x80 {
			s.pos++
			return uint64(b), nil
		}
	}
	return s.uvarintSlow(end)
}

func (s *scanner) uvarintSlow(end int64) (uint64, error) {
	off := s.off()
	left := end - off
	if left <= 0 {
		return 0, malformed(off, "message ends where a varint should be")
	}
	n := int(min(left, maxVarintLen))
	if err := s.fill(n); err != nil {
		return 0, err
	}
	b := s.data[s.pos:]
	if len(b) > n {
		b = b[:n]
	}
	v, k := protowire.ConsumeVarint(b)
	switch {
	case k == -1 && (len(b) < n || end >= s.size):
		return 0, malformed(off, "file ends inside a varint (truncated)")
	case k == -1:
		return 0, malformed(off, "varint runs past the end of its message")
	case k < 0:
		return 0, malformed(off, "bad varint (longer than 10 bytes)")
	}
	s.pos += k
	return v, nil
}

// tag reads a field tag.
func (s *scanner) tag(end int64) (protowire.Number, byte, error) {
	off := s.off()
	v, err := s.uvarint(end)
	if err != nil {
		return 0, 0, err
	}
	num := protowire.Number(v >> 3)
	if v>>3 == 0 || v>>3 > uint64(protowire.MaxValidNumber) {
		return 0, 0, malformed(off, "bad field number %d", v>>3)
	}
	return num, byte(v & 7), nil
}

// length reads the length of a length-delimited field and checks that the
// field fits before end.
func (s *scanner) length(end int64) (int64, error) {
	off := s.off()
	v, err := s.uvarint(end)
	if err != nil {
		return 0, err
	}
	if left := end - s.off(); v > uint64(left) {
		if end >= s.size {
			return 0, malformed(off, "length %d runs past the end of the file (%d bytes left; truncated?)", v, left)
		}
		return 0, malformed(off, "length %d runs past the end of its message (%d bytes left)", v, left)
	}
	return int64(v), nil
}

// fixed64 reads 8 little-endian bytes.
func (s *scanner) fixed64(end int64) (uint64, error) {
	off := s.off()
	if end-off < 8 {
		return 0, malformed(off, "fixed64 runs past the end of its message")
	}
	if err := s.fill(8); err != nil {
		return 0, err
	}
	if len(s.data)-s.pos < 8 {
		return 0, malformed(off, "file ends inside a fixed64 (truncated)")
	}
	v, _ := protowire.ConsumeFixed64(s.data[s.pos:])
	s.pos += 8
	return v, nil
}

// skip moves n bytes forward; n must fit before end.
func (s *scanner) skip(n, end int64) error {
	off := s.off()
	if n < 0 || n > end-off {
		if end >= s.size {
			return malformed(off, "a value of %d bytes runs past the end of the file (truncated?)", n)
		}
		return malformed(off, "a value of %d bytes runs past the end of its message", n)
	}
	s.seek(off + n)
	return nil
}

// bytes reads n bytes (already checked against the enclosing message) into
// dst[:0], growing it as needed.
func (s *scanner) bytes(n int64, dst []byte) ([]byte, error) {
	off := s.off()
	if n > s.size-off {
		return nil, malformed(off, "%d bytes run past the end of the file (truncated)", n)
	}
	dst = dst[:0]
	for n > 0 {
		k := int(min(n, int64(len(s.buf))))
		if err := s.fill(k); err != nil {
			return nil, err
		}
		avail := len(s.data) - s.pos
		if avail == 0 {
			return nil, malformed(s.off(), "file ends early (truncated)")
		}
		k = min(k, avail)
		dst = append(dst, s.data[s.pos:s.pos+k]...)
		s.pos += k
		n -= int64(k)
	}
	return dst, nil
}

// str reads a length-delimited string field.
func (s *scanner) str(end int64) (string, error) {
	n, err := s.length(end)
	if err != nil {
		return "", err
	}
	b, err := s.bytes(n, nil)
	return string(b), err
}

// skipValue skips a field value of the given wire type.
func (s *scanner) skipValue(typ byte, end int64) error {
	switch typ {
	case wireVarint:
		_, err := s.uvarint(end)
		return err
	case wireFixed64:
		return s.skip(8, end)
	case wireBytes:
		n, err := s.length(end)
		if err != nil {
			return err
		}
		return s.skip(n, end)
	case wireFixed32:
		return s.skip(4, end)
	}
	return malformed(s.off(), "wire type %d is not used by XSpace", typ)
}

// wantType checks the wire type of a known field.
func wantType(off int64, msg string, num protowire.Number, got, want byte) error {
	if got == want {
		return nil
	}
	return malformed(off, "%s field %d has wire type %d, want %d", msg, num, got, want)
}

// varintAt decodes a varint from b, reporting errors at off.
func varintAt(b []byte, off int64) (uint64, int, error) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1, nil
	}
	return varintAtSlow(b, off)
}

func varintAtSlow(b []byte, off int64) (uint64, int, error) {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		if n == -1 /* truncated */ {
			return 0, 0, malformed(off, "varint runs past the end of its message")
		}
		return 0, 0, malformed(off, "bad varint")
	}
	return v, n, nil
}

// skipAt skips a field value of the given wire type in b.
func skipAt(b []byte, typ byte, off int64) (int, error) {
	switch typ {
	case wireVarint:
		_, n, err := varintAt(b, off)
		return n, err
	case wireFixed64:
		if len(b) < 8 {
			return 0, malformed(off, "fixed64 runs past the end of its message")
		}
		return 8, nil
	case wireBytes:
		l, n, err := varintAt(b, off)
		if err != nil {
			return 0, err
		}
		if l > uint64(len(b)-n) {
			return 0, malformed(off, "length %d runs past the end of its message (%d bytes left)", l, len(b)-n)
		}
		return n + int(l), nil
	case wireFixed32:
		if len(b) < 4 {
			return 0, malformed(off, "fixed32 runs past the end of its message")
		}
		return 4, nil
	}
	return 0, malformed(off, "wire type %d is not used by XSpace", typ)
}
