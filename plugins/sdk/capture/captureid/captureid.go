// Package captureid is the one check of capture ids (and of the other ids
// that become file names, bbolt keys or object names: fleet and schedule
// ids) shared by the agent and the collector. An id that passes can be
// joined to a folder or a bucket prefix without escaping it: it is 1–128
// bytes of [A-Za-z0-9._-], starts with a letter or a digit (so it is never
// ".", "..", a hidden file or a command-line flag) and holds no "..".
package captureid

import (
	"errors"
	"fmt"
)

// MaxLen is the longest valid id, in bytes.
const MaxLen = 128

// ErrBad means an id is not a valid capture id.
var ErrBad = errors.New("captureid: bad id: use 1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, with no \"..\"")

// Valid reports whether id is a valid capture id.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen || !alnum(id[0]) {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case alnum(c), c == '_', c == '-':
		case c == '.':
			if i+1 < len(id) && id[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Check returns nil for a valid id, else ErrBad naming the id (quoted, so
// control bytes show escaped).
func Check(id string) error {
	if Valid(id) {
		return nil
	}
	if len(id) > MaxLen {
		return fmt.Errorf("%w: %d bytes", ErrBad, len(id))
	}
	return fmt.Errorf("%w: %q", ErrBad, id)
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
