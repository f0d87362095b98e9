package filecmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tpu-1.example", "tpu-1.example"},
		{"zone=us-east5-b, µs ✓", "zone=us-east5-b, µs ✓"},
		{"\x1b[2J\x1b[H", `\u001b[2J\u001b[H`},
		{"\x1b]0;pwned\x07", `\u001b]0;pwned\u0007`},
		{"a\u009b2Jb", `a\u009b2Jb`},
		{"abc\u202edcba", `abc\u202edcba`},
		{"\u2066x\u2069\u200e\u200f\u061c", `\u2066x\u2069\u200e\u200f\u061c`},
		{"row\nforged\trow\r", `row\u000aforged\u0009row\u000d`},
		{"del\x7f nul\x00", `del\u007f nul\u0000`},
		{"bad \xff\xc2 utf8", `bad \xff\xc2 utf8`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeWriter(t *testing.T) {
	in := "# report\n\n| op | ✓ |\n|\x1b[31mred\x1b[0m\t|\u202e|\r\n"
	for _, cr := range []bool{false, true} {
		// Written a byte at a time: multi-byte characters arrive split.
		var out bytes.Buffer
		w := newEscapeWriter(&out, cr)
		for i := range len(in) {
			if n, err := w.Write([]byte{in[i]}); n != 1 || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		want := "# report\n\n| op | ✓ |\n|\\u001b[31mred\\u001b[0m\t|\\u202e|\\u000d\n"
		if cr {
			want = strings.Replace(want, `\u000d`, "\r", 1)
		}
		if got := out.String(); got != want {
			t.Errorf("escapeWriter(cr %v) wrote %q, want %q", cr, got, want)
		}
	}
	// JSON stays JSON: the \u form is JSON's own escape.
	var out bytes.Buffer
	w := newEscapeWriter(&out, false)
	_ = json.NewEncoder(w).Encode(map[string]string{"host": "a\u009b2J\u202eb"})
	var back map[string]string
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back["host"] != "a\u009b2J\u202eb" {
		t.Errorf("escaped JSON %q reads back as %q, %v", out.String(), back, err)
	}
	if !utf8.Valid(out.Bytes()) || strings.ContainsRune(out.String(), '\u009b') {
		t.Errorf("escaped JSON %q still holds the raw characters", out.String())
	}
}
