package size

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  error
	}{
		{"1048576", 1 << 20, nil},
		{"500MB", 500e6, nil},
		{"10GiB", 10 << 30, nil},
		{"1 KiB", 1024, nil},
		{" 1 TiB ", 1 << 40, nil},
		{"7B", 7, nil},
		{"", 0, ErrSyntax},
		{"-1", 0, ErrSyntax},
		{"1.5GB", 0, ErrSyntax},
		{"12 parsecs", 0, ErrSyntax},
		{"99999999999TiB", 0, ErrRange},
		{"99999999999999999999", 0, ErrRange},
	} {
		got, err := Parse(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Parse(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{20 << 20, "20.0 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"}, {-2048, "-2.0 KiB"},
	} {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "500MB", "10 GiB", "-1", "9999999999TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && n < 0 {
			t.Errorf("Parse(%q) = %d", s, n)
		}
	})
}
