package tracejson

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner reads JSON values out of a buffer that may end before the value
// does; its methods then return errNeedMore. off is the stream offset of the
// buffer's first byte and event the index of the event being read (-1
// outside the traceEvents array); both only go into errors.
type scanner struct {
	off      int64
	event    int
	maxDepth int
}

// errAt returns a *SyntaxError at buffer index i.
func (s *scanner) errAt(i int, kind error, what string) *SyntaxError {
	return &SyntaxError{Off: s.off + int64(i), Event: s.event, What: what, Err: kind}
}

// unexpected describes the byte at b[i] as an error.
func (s *scanner) unexpected(b []byte, i int, want string) *SyntaxError {
	return s.errAt(i, ErrMalformed, fmt.Sprintf("%s, found %s", want, describeByte(b[i])))
}

// tooDeep reports nesting beyond maxDepth at b[i].
func (s *scanner) tooDeep(i int) *SyntaxError {
	return s.errAt(i, ErrTooDeep, fmt.Sprintf("objects and arrays nest deeper than %d levels", s.maxDepth))
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace, or len(b).
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// nextSpecial returns the index of the first '"' or '\\' at or after i, or
// len(b). It looks at eight bytes at a time.
func nextSpecial(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lo8 * '"')
		e := x ^ (lo8 * '\\')
		// The lowest set bit of (v-lo8)&^v&hi8 marks v's lowest zero byte
		// exactly (borrows only spoil the bytes above it).
		if m := ((q-lo8)&^q | (e-lo8)&^e) & hi8; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}

// scanString finds the end of a string whose contents start at b[i] (just
// past the opening quote), checking its escapes. It returns the index of the
// closing quote and whether the string holds escapes. ok is false when b
// ends first (end is then len(b)) or at a bad escape (end is its index);
// strErr tells them apart.
func scanString(b []byte, i int) (end int, esc, ok bool) {
	for {
		i = nextSpecial(b, i)
		if i >= len(b) {
			return len(b), esc, false
		}
		if b[i] == '"' {
			return i, esc, true
		}
		esc = true
		if i+1 >= len(b) {
			return len(b), esc, false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				return len(b), esc, false
			}
			if _, ok := hex4(b[i+2:]); !ok {
				return i, esc, false
			}
			i += 6
		default:
			return i, esc, false
		}
	}
}

// strErr is the error for a scanString that returned !ok at end.
func (s *scanner) strErr(b []byte, end int) error {
	if end >= len(b) {
		return errNeedMore
	}
	return s.errAt(end, ErrMalformed, "bad escape in a string (\\ must be followed by one of \"\\/bfnrt or u and four hex digits)")
}

// scanShort is scanString for strings that are usually short (keys, ph):
// it looks at bytes one by one for a while before scanning by words.
func scanShort(b []byte, i int) (end int, esc, ok bool) {
	for n := min(len(b), i+16); i < n; i++ {
		switch b[i] {
		case '"':
			return i, false, true
		case '\\':
			return scanString(b, i)
		}
	}
	return scanString(b, i)
}

// isTokenByte reports whether c can be part of a number or a literal.
func isTokenByte(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 26 || c == '.' || c == '-' || c == '+'
}

// validToken reports whether t is a JSON number or literal. NaN and
// Infinity, which Python's json writes, are accepted here; times reject them.
func validToken(t []byte) bool {
	switch string(t) {
	case "true", "false", "null", "NaN", "Infinity", "-Infinity":
		return true
	case "":
		return false
	}
	if t[0] != '-' && t[0]-'0' >= 10 {
		return false
	}
	for _, c := range t {
		if c-'0' >= 10 && c != '.' && c != '-' && c != '+' && c|0x20 != 'e' {
			return false
		}
	}
	return true
}

// skipToken skips the number or literal at b[i].
func (s *scanner) skipToken(b []byte, i int) (int, error) {
	j := i
	for j < len(b) && isTokenByte(b[j]) {
		j++
	}
	if j >= len(b) {
		return j, errNeedMore
	}
	if j == i {
		return i, s.unexpected(b, i, "expected a value")
	}
	if !validToken(b[i:j]) {
		t := b[i:j]
		if len(t) > 32 {
			t = t[:32]
		}
		return i, s.errAt(i, ErrMalformed, fmt.Sprintf("bad literal %q", t))
	}
	return j, nil
}

// skipValue skips the value starting at b[i]; depth is the depth it has if
// it is an object or an array (the top-level object has depth 1).
func (s *scanner) skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errNeedMore
	}
	switch b[i] {
	case '"':
		j, _, ok := scanString(b, i+1)
		if !ok {
			return j, s.strErr(b, j)
		}
		return j + 1, nil
	case '{':
		return s.skipObject(b, i, depth)
	case '[':
		return s.skipArray(b, i, depth)
	}
	return s.skipToken(b, i)
}

// skipObject skips the object at b[i].
func (s *scanner) skipObject(b []byte, i, depth int) (int, error) {
	return s.members(b, i, depth, nil)
}

// skipArray skips the array at b[i].
func (s *scanner) skipArray(b []byte, i, depth int) (int, error) {
	if depth > s.maxDepth {
		return i, s.tooDeep(i)
	}
	i = skipWS(b, i+1)
	if i >= len(b) {
		return i, errNeedMore
	}
	if b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.skipValue(b, i, depth+1); err != nil {
			return i, err
		}
		if i = skipWS(b, i); i >= len(b) {
			return i, errNeedMore
		}
		switch b[i] {
		case ',':
			if i = skipWS(b, i+1); i >= len(b) {
				return i, errNeedMore
			}
		case ']':
			return i + 1, nil
		default:
			return i, s.unexpected(b, i, "expected ',' or ']' after a value in an array")
		}
	}
}

// members calls fn for each member of the object at b[i] with its key
// (unescaped; valid only during the call) and the bounds of its raw value.
// It returns the index just past the object. A nil fn skips the object.
func (s *scanner) members(b []byte, i, depth int, fn func(key []byte, vs, ve int) error) (int, error) {
	if depth > s.maxDepth {
		return i, s.tooDeep(i)
	}
	if i >= len(b) {
		return i, errNeedMore
	}
	if b[i] != '{' {
		return i, s.unexpected(b, i, "expected an object")
	}
	if i = skipWS(b, i+1); i >= len(b) {
		return i, errNeedMore
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	var keyBuf []byte
	for {
		if b[i] != '"' {
			return i, s.unexpected(b, i, "expected a string key")
		}
		j, esc, ok := scanString(b, i+1)
		if !ok {
			return j, s.strErr(b, j)
		}
		key := b[i+1 : j]
		if esc && fn != nil {
			if keyBuf, ok = appendUnescaped(keyBuf[:0], key); !ok {
				return i, s.errAt(i, ErrMalformed, "bad escape in a key")
			}
			key = keyBuf
		}
		if i = skipWS(b, j+1); i >= len(b) {
			return i, errNeedMore
		}
		if b[i] != ':' {
			return i, s.unexpected(b, i, "expected ':' after a key")
		}
		vs := skipWS(b, i+1)
		ve, err := s.skipValue(b, vs, depth+1)
		if err != nil {
			return ve, err
		}
		if fn != nil {
			if err := fn(key, vs, ve); err != nil {
				return vs, err
			}
		}
		if i = skipWS(b, ve); i >= len(b) {
			return i, errNeedMore
		}
		switch b[i] {
		case ',':
			if i = skipWS(b, i+1); i >= len(b) {
				return i, errNeedMore
			}
		case '}':
			return i + 1, nil
		default:
			return i, s.unexpected(b, i, "expected ',' or '}' after a value in an object")
		}
	}
}

// text returns a value as a Go string: a JSON string's contents unescaped,
// anything else (number, literal, object, array) as its raw JSON text.
func (s *scanner) text(b []byte, vs, ve int) (string, error) {
	if b[vs] != '"' {
		return string(b[vs:ve]), nil
	}
	raw := b[vs+1 : ve-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	u, ok := appendUnescaped(make([]byte, 0, len(raw)), raw)
	if !ok {
		return "", s.errAt(vs, ErrMalformed, "bad escape in a string")
	}
	return string(u), nil
}

// appendUnescaped appends the contents of a JSON string (without its
// quotes) to dst with escapes resolved, as encoding/json does: a lone or
// mismatched surrogate becomes U+FFFD. ok is false for a bad escape.
func appendUnescaped(dst, s []byte) (_ []byte, ok bool) {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:i]...)
		s = s[i:]
		if len(s) < 2 {
			return dst, false
		}
		switch c := s[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[2:])
			if !ok {
				return dst, false
			}
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2, ok = hex4(s[2:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		s = s[2:]
	}
	return dst, true
}

// hex4 decodes four hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c-'0' < 10:
			c -= '0'
		case c-'a' < 6:
			c -= 'a' - 10
		case c-'A' < 6:
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
