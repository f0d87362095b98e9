package filecmd

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Escape makes one line of text safe to print on a terminal, in a table
// cell or a message: every control character (C0 with newline and tab, DEL,
// C1 such as CSI U+009B), every bidirectional
// override or isolate (U+202A–U+202E, U+2066–U+2069, and the marks U+200E,
// U+200F, U+061C) and every byte that is not UTF-8 is written as a visible
// escape, \u001b or \xff. Agents choose host names, labels, op names and
// messages, and a terminal would obey an ESC sequence in them (clear the
// screen, set the title, write the clipboard) or show text reordered.
// Inside a JSON string the \u form is valid JSON for the same character.
//
// A newline or a tab in a host name would add a forged row or column.
//
// It is the one escaping function of the CLI: table cells and messages from
// agents or the collector go through it, and so does all of stdout and
// stderr (escapeWriter), which keeps the newlines and tabs of documents
// (Markdown reports, JSON) and, on stderr, carriage returns.
func Escape(s string) string {
	if !needsEscape(s, keepNone) {
		return s
	}
	return string(appendEscaped(nil, []byte(s), keepNone))
}

// keep says which layout characters an escape lets through.
type keep uint8

const (
	keepNone   keep = 0
	keepLayout keep = 1 // newline and tab
	keepCR     keep = 2 // carriage return
)

// needsEscape reports whether s holds anything to escape.
func needsEscape(s string, k keep) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n, k) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune reports whether the rune r, n bytes long, must be escaped.
func unsafeRune(r rune, n int, k keep) bool {
	switch {
	case r == utf8.RuneError && n <= 1:
		return true // not UTF-8
	case (r == '\n' || r == '\t') && k&keepLayout != 0, r == '\r' && k&keepCR != 0:
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// appendEscaped appends b, escaped, to dst.
func appendEscaped(dst, b []byte, k keep) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case !unsafeRune(r, n, k):
			dst = append(dst, b[:n]...)
		case r == utf8.RuneError && n <= 1:
			dst = fmt.Appendf(dst, `\x%02x`, b[0])
		default:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		}
		b = b[n:]
	}
	return dst
}

// escapeWriter escapes everything written through it (see Escape). A
// multi-byte character split between two writes is held back until its end
// arrives.
type escapeWriter struct {
	w    io.Writer
	keep keep // newlines and tabs, and carriage returns on stderr
	held []byte
	buf  []byte
}

// newEscapeWriter returns a writer that escapes what it writes to w,
// keeping newlines and tabs; cr keeps carriage returns too (progress lines
// on stderr).
func newEscapeWriter(w io.Writer, cr bool) *escapeWriter {
	k := keepLayout
	if cr {
		k |= keepCR
	}
	return &escapeWriter{w: w, keep: k}
}

// Write implements io.Writer. It reports len(p) written once the escaped
// bytes are.
func (e *escapeWriter) Write(p []byte) (int, error) {
	b := p
	if len(e.held) > 0 {
		b = append(e.held, p...)
		e.held = nil
	}
	// Hold back an incomplete UTF-8 sequence at the end.
	if cut := incompleteTail(b); cut > 0 {
		e.held = append([]byte(nil), b[len(b)-cut:]...)
		b = b[:len(b)-cut]
	}
	if !needsEscape(string(b), e.keep) {
		if _, err := e.w.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	e.buf = appendEscaped(e.buf[:0], b, e.keep)
	if _, err := e.w.Write(e.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held-back incomplete sequence, escaped.
func (e *escapeWriter) Flush() error {
	if len(e.held) == 0 {
		return nil
	}
	b := appendEscaped(nil, e.held, e.keep)
	e.held = nil
	_, err := e.w.Write(b)
	return err
}

// incompleteTail returns how many bytes at the end of b start a UTF-8
// sequence that is not complete yet (0 if none).
func incompleteTail(b []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
