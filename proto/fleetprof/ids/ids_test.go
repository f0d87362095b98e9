package ids

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// hostile is a list of ids that must never pass: they would escape a
// folder, name a hidden file or a flag, hold a separator, a control byte or
// a NUL, leave ASCII, or be too long.
var hostile = []string{
	"", ".", "..", "../../etc/passwd", "..\\..\\x", "a/b", "a\\b", "/abs", "a/../b", "a..b", "a..",
	".hidden", "-flag", "_x", "a\x00b", "a b", "a\nb", "a\tb", "a\x7fb", "a\x1bb", "é", "tpu-é", "a\u200bb",
	"\xff", strings.Repeat("a", 200), strings.Repeat("a", MaxLen+1), "a:b", "a%2fb", "~root", "a/", "a*", "a?b",
}

// good is a list of ids that must pass.
var good = []string{
	"a", "Z", "9", "20261129T132544Z-0a1b2c3d", "s-deadbeef", "f-1.2_3", "A.b.c", "a.", "a-", "a_",
	"host-7.zone", "f-20261129-132544-0a1b2c3d.tpu-1", strings.Repeat("z", MaxLen),
}

func TestValid(t *testing.T) {
	for _, tt := range []struct {
		ids  []string
		want bool
	}{
		{hostile, false},
		{good, true},
	} {
		for _, id := range tt.ids {
			if got := Valid(id); got != tt.want {
				t.Errorf("Valid(%q) = %v, want %v", id, got, tt.want)
			}
			if err := Check(id); (err == nil) != tt.want || (err != nil && !errors.Is(err, ErrBad)) {
				t.Errorf("Check(%q) = %v, want nil: %v (else ErrBad)", id, err, tt.want)
			}
			if got := ValidAgent(id); got != tt.want {
				t.Errorf("ValidAgent(%q) = %v, want %v", id, got, tt.want)
			}
			if err := CheckAgent(id); (err == nil) != tt.want || (err != nil && !errors.Is(err, ErrBadAgent)) {
				t.Errorf("CheckAgent(%q) = %v, want nil: %v (else ErrBadAgent)", id, err, tt.want)
			}
		}
	}
}

// TestCheckMessage: the error names the id quoted (control bytes escaped),
// or only its length when it is too long to print.
func TestCheckMessage(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want string
	}{
		{"a\x00b", `: "a\x00b"`},
		{"", `: ""`},
		{strings.Repeat("a", MaxLen+1), ": 129 bytes"},
	} {
		for _, err := range []error{Check(tt.id), CheckAgent(tt.id)} {
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("Check(%q) = %v, want it to end with %s", tt.id, err, tt.want)
			}
		}
	}
}

// TestStaysInside checks the property the rule exists for: a valid id
// joined to a folder names a direct child of it.
func TestStaysInside(t *testing.T) {
	dir := filepath.FromSlash("/var/lib/spool")
	for _, id := range good {
		if got := filepath.Dir(filepath.Join(dir, id+".fpcap")); got != dir {
			t.Errorf("Join(%q) leaves the folder: %s", id, got)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, id := range append(hostile, good...) {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidAgent(id) != Valid(id) {
			t.Errorf("ValidAgent(%q) = %v, Valid = %v: want the same rule", id, ValidAgent(id), Valid(id))
		}
		if !Valid(id) {
			return
		}
		dir := filepath.FromSlash("/d")
		if filepath.Dir(filepath.Join(dir, id)) != dir || filepath.Base(id) != id || strings.Contains(id, "..") || len(id) > MaxLen {
			t.Errorf("Valid(%q) = true but it escapes or is too long", id)
		}
	})
}
