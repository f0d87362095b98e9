package captureid

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile is a list of ids that must never pass: they would escape a
// folder, name a hidden file, hold a separator or a NUL, or be too long.
var hostile = []string{
	"", ".", "..", "../../etc/passwd", "..\\..\\x", "a/b", "a\\b", "/abs", "a/../b", "a..b",
	".hidden", "-flag", "_x", "a\x00b", "a b", "a\nb", "é", strings.Repeat("a", 200),
	strings.Repeat("a", MaxLen+1), "a:b", "a%2fb", "~root",
}

func TestValid(t *testing.T) {
	for _, id := range hostile {
		if Valid(id) {
			t.Errorf("Valid(%q) = true, want false", id)
		}
		if err := Check(id); !errors.Is(err, ErrBad) {
			t.Errorf("Check(%q) = %v, want ErrBad", id, err)
		}
	}
	for _, id := range []string{"a", "20261129T132544Z-0a1b2c3d", "s-deadbeef", "f-1.2_3", "A.b.c", strings.Repeat("z", MaxLen)} {
		if !Valid(id) {
			t.Errorf("Valid(%q) = false, want true", id)
		}
		if err := Check(id); err != nil {
			t.Errorf("Check(%q) = %v, want nil", id, err)
		}
	}
}

// TestStaysInside checks the property the rule exists for: a valid id
// joined to a folder names a direct child of it.
func TestStaysInside(t *testing.T) {
	dir := filepath.FromSlash("/var/lib/spool")
	for _, id := range []string{"a", "a.b", "x-1_2.fpcap"} {
		if got := filepath.Dir(filepath.Join(dir, id+".fpcap")); got != dir {
			t.Errorf("Join(%q) leaves the folder: %s", id, got)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, id := range append(hostile, "a", "a.b-c_d") {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !Valid(id) {
			return
		}
		dir := filepath.FromSlash("/d")
		if filepath.Dir(filepath.Join(dir, id)) != dir || filepath.Base(id) != id || strings.Contains(id, "..") || len(id) > MaxLen {
			t.Errorf("Valid(%q) = true but it escapes or is too long", id)
		}
	})
}
