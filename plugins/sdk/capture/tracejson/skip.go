package tracejson

// streamSkip skips one JSON value of any size, fed block by block. It checks
// that strings end and that brackets match and nest no deeper than
// maxDepth, but not the grammar between them: it is for the top-level
// values fleetprof does not read ("metadata" and the like).
type streamSkip struct {
	s        *scanner
	maxDepth int
	stack    []byte // open brackets
	started  bool
	inStr    bool
	esc      int // 0: none; -1: just past a backslash; n > 0: hex digits left
	inTok    bool
}

// feed consumes b from i. It returns where it stopped and whether the value
// has ended; when it has not, the caller feeds the rest of the stream from
// the returned index.
func (k *streamSkip) feed(b []byte, i int) (int, bool, error) {
	if !k.started {
		k.started = true
		c := b[i]
		if c != '"' && c != '{' && c != '[' && !isTokenByte(c) {
			return i, false, k.s.unexpected(b, i, "expected a value")
		}
	}
	for i < len(b) {
		if k.esc != 0 {
			c := b[i]
			switch {
			case k.esc > 0:
				if _, ok := hex4([]byte{c, '0', '0', '0'}); !ok {
					return i, false, k.s.errAt(i, ErrMalformed, "bad \\u escape in a string")
				}
				k.esc--
			case c == 'u':
				k.esc = 4
			case c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't':
				k.esc = 0
			default:
				return i, false, k.s.errAt(i, ErrMalformed, "bad escape in a string")
			}
			i++
			continue
		}
		if k.inStr {
			j := nextSpecial(b, i)
			if j >= len(b) {
				return j, false, nil
			}
			if b[j] == '\\' {
				k.esc = -1
				i = j + 1
				continue
			}
			k.inStr = false
			i = j + 1
			if len(k.stack) == 0 {
				return i, true, nil
			}
			continue
		}
		c := b[i]
		if k.inTok {
			if isTokenByte(c) {
				i++
				continue
			}
			k.inTok = false
			if len(k.stack) == 0 {
				return i, true, nil
			}
		}
		switch c {
		case '"':
			k.inStr = true
		case '{', '[':
			// The value sits in the top-level object: depth 2.
			if len(k.stack)+2 > k.maxDepth {
				return i, false, k.s.tooDeep(i)
			}
			k.stack = append(k.stack, c)
		case '}', ']':
			n := len(k.stack)
			if n == 0 || k.stack[n-1] != c-2 { // '{'+2 == '}', '['+2 == ']'
				return i, false, k.s.unexpected(b, i, "mismatched bracket")
			}
			k.stack = k.stack[:n-1]
			if n == 1 {
				return i + 1, true, nil
			}
		case ',', ':', ' ', '\t', '\n', '\r':
		default:
			if !isTokenByte(c) {
				return i, false, k.s.unexpected(b, i, "expected a value")
			}
			k.inTok = true
		}
		i++
	}
	return i, false, nil
}
