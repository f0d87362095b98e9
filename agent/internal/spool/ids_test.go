package spool

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHostileIDs(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{})
	for _, id := range []string{"../../etc/passwd", "a/b", "", strings.Repeat("a", 200), "a\x00b", "..", "-rf"} {
		if _, err := put(t, s, id, 1, time.Time{}); !errors.Is(err, ErrBadID) {
			t.Errorf("Put(%q) = %v, want ErrBadID", id, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the spool folder holds %d files after hostile puts, want 0", len(ents))
	}
}
