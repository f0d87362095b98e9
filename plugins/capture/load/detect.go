package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	"github.com/klauspost/compress/gzip"
)

// Detect tells a file's format from its first bytes: the gzip magic (then the
// first byte of the stream inside), the .fpcap magic, a leading '{' or '['
// (trace JSON: the Trace Event Format's object and array forms), or an
// XSpace's first protobuf tag.
func Detect(r io.ReaderAt) (Format, error) {
	head := make([]byte, 64)
	n, err := r.ReadAt(head, 0)
	if n == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("load: read: %w", err)
		}
		return "", ErrEmptyFile
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(io.NewSectionReader(r, 0, 1<<62))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadGzip, err)
		}
		inner := make([]byte, 512)
		m, err := io.ReadFull(zr, inner)
		if m == 0 {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return "", ErrTruncatedGzip
			}
			return "", fmt.Errorf("%w: %v", ErrBadGzip, err)
		}
		if isJSONStart(firstNonSpace(bytes.TrimPrefix(inner[:m], utf8BOM))) {
			return FormatGzipJSON, nil
		}
		return "", fmt.Errorf("%w: a gzip file whose content is not JSON", ErrUnknownFormat)
	case bytes.HasPrefix(head, []byte(fpcap.Magic)):
		return FormatFpcap, nil
	case isJSONStart(firstNonSpace(bytes.TrimPrefix(head, utf8BOM))):
		return FormatTraceJSON, nil
	case looksLikeXSpace(head):
		return FormatXPlane, nil
	}
	return "", ErrUnknownFormat
}

// utf8BOM is the byte order mark some Windows tools write before JSON.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// isJSONStart reports whether c opens a trace JSON: an object holding
// traceEvents, or the bare array of events. No XSpace starts with either
// (its fields' first tags are 0x0a, 0x12, ...).
func isJSONStart(c byte) bool { return c == '{' || c == '[' }

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// looksLikeXSpace accepts the first tag of any XSpace field: planes (1),
// errors (2), warnings (3), hostnames (4), each length-delimited.
func looksLikeXSpace(head []byte) bool {
	switch head[0] {
	case 0x0a, 0x12, 0x1a, 0x22:
		return true
	}
	return false
}
