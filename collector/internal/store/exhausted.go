package store

import (
	"errors"
	"strings"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"
)

// exhaustion names the errors that mean the collector ran out of something
// the store needs, in words fit to tell an agent (no paths).
var exhaustion = []struct {
	err  error
	text string // how the error reads when bbolt formats it with %s
	why  string
}{
	{syscall.ENOSPC, "no space left on device", "no space left on device"},
	{syscall.EDQUOT, "disk quota exceeded", "disk quota exceeded"},
	{syscall.EFBIG, "file too large", "file too large"},
	{syscall.ENOMEM, "cannot allocate memory", "out of memory"},
	{berrors.ErrMaxSizeReached, "database reached maximum size", "the database reached its maximum size"},
	{nil, "mmap allocate error", "cannot map the grown database file"},
	{nil, "mmap too large", "the database is too large to map"},
}

// Exhausted reports whether err means the collector ran out of a resource
// the store needs (disk space, file size or quota limits, memory to map
// the database), and says which in a few words without paths. Such errors
// pass once space is freed, so callers retry them later. bbolt formats some
// of them with %s, dropping the chain, so their text is matched too.
func Exhausted(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	for _, e := range exhaustion {
		if e.err != nil && errors.Is(err, e.err) {
			return e.why, true
		}
	}
	msg := err.Error()
	for _, e := range exhaustion {
		if strings.Contains(msg, e.text) {
			return e.why, true
		}
	}
	return "", false
}
