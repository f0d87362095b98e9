package pluginhost

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	sumA = sha256.Sum256([]byte("a"))
	sumB = sha256.Sum256([]byte("b"))
)

func TestParseAllowlist(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Allowlist
		wantErr string
	}{
		{"empty", "", Allowlist{}, ""},
		{"sha256sum text and binary modes, comments, ./", fmt.Sprintf("# plugins\n\n%x  top_ops\n%x *./idle\n  \n", sumA, sumB),
			Allowlist{"top_ops": sumA, "idle": sumB}, ""},
		{"same line twice", fmt.Sprintf("%x  a\n%x  a\n", sumA, sumA), Allowlist{"a": sumA}, ""},
		{"no name", fmt.Sprintf("%x\n", sumA), nil, "allow:1: want `<sha256 hex>  <file name>`"},
		{"short sum", "abcd  a\n", nil, `allow:1: "abcd" is not a sha256`},
		{"not hex", strings.Repeat("z", 64) + "  a\n", nil, "is not a sha256 in hexadecimal"},
		{"folder", fmt.Sprintf("# x\n%x  bin/plugins/a\n", sumA), nil, `allow:2: "bin/plugins/a" is not a file name`},
		{"dot dot", fmt.Sprintf("%x  ..\n", sumA), nil, `".." is not a file name`},
		{"conflict", fmt.Sprintf("%x  a\n%x  a\n", sumA, sumB), nil, "allow:2: a is listed twice with different sums"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAllowlist(strings.NewReader(tt.in), "allow")
			if tt.wantErr != "" {
				var ae *AllowlistError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadAllowlist) || !errors.As(err, &ae) {
					t.Errorf("ParseAllowlist() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAllowlist() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAllowlistTooLarge(t *testing.T) {
	_, err := ParseAllowlist(strings.NewReader(strings.Repeat("#", maxAllowlistBytes+1)), "big")
	if !errors.Is(err, ErrBadAllowlist) {
		t.Errorf("ParseAllowlist(2 MiB) = %v, want ErrBadAllowlist", err)
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("top_ops", "a", 0o755)
	write("idle", "b", 0o755)
	write("changed", "new", 0o755)
	write("stranger", "s", 0o755)
	write("README.md", "not a plugin", 0o644)
	write(".hidden", "h", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "top_ops"), filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	write(AllowlistFile, fmt.Sprintf("%x  top_ops\n%x  idle\n%x  changed\n%x  linked\n%x  gone\n",
		sumA, sumB, sumA, sumA, sumB), 0o644)

	got, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name string
		Sum  [32]byte
		Err  error
	}
	want := []row{
		{"changed", sumA, ErrChecksum},
		{"idle", sumB, nil},
		{"linked", sumA, nil},
		{"stranger", [32]byte{}, ErrNotAllowed},
		{"top_ops", sumA, nil},
	}
	var rows []row
	for _, p := range got {
		if p.Path != filepath.Join(dir, p.Name) {
			t.Errorf("%s: Path = %s", p.Name, p.Path)
		}
		r := row{p.Name, p.SHA256, nil}
		for _, e := range []error{ErrChecksum, ErrNotAllowed} {
			if errors.Is(p.Err, e) {
				r.Err = e
			}
		}
		if p.Err != nil && r.Err == nil {
			t.Errorf("%s: unexpected error %v", p.Name, p.Err)
		}
		rows = append(rows, r)
	}
	if diff := cmp.Diff(want, rows, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("Discover (-want +got):\n%s", diff)
	}
}

func TestDiscoverNoAllowlist(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Discover(dir)
	if !errors.Is(err, ErrNoAllowlist) || !strings.Contains(err.Error(), "sha256sum") {
		t.Errorf("Discover(no allowlist) = %v, want ErrNoAllowlist with instructions", err)
	}
	// An allowlist kept elsewhere.
	other := filepath.Join(t.TempDir(), "allow")
	sum := sha256.Sum256([]byte("x"))
	if err := os.WriteFile(other, fmt.Appendf(nil, "%x  p\n", sum), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := DiscoverAllowlist(dir, other)
	if err != nil || len(ps) != 1 || ps[0].Err != nil {
		t.Errorf("DiscoverAllowlist = %+v, %v", ps, err)
	}
	if _, err := Discover(filepath.Join(dir, "missing")); err == nil {
		t.Error("Discover(missing dir) = nil error")
	}
}

// FuzzParseAllowlist checks that any allowlist text parses or fails with
// ErrBadAllowlist, and never yields a name with a folder in it.
func FuzzParseAllowlist(f *testing.F) {
	f.Add(fmt.Sprintf("%x  top_ops\n", sumA))
	f.Add("# c\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAllowlist(strings.NewReader(s), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrBadAllowlist) {
				t.Fatalf("error %v is not ErrBadAllowlist", err)
			}
			return
		}
		for name := range a {
			if name == "" || strings.ContainsAny(name, `/\`) {
				t.Fatalf("name %q accepted", name)
			}
		}
	})
}
