package selector

import (
	"errors"
	"testing"
)

func TestParseMatch(t *testing.T) {
	labels := map[string]string{"model": "qwen3", "zone": "us-east5-b"}
	tests := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"model=qwen3", true},
		{"model==qwen3", true},
		{"model=qwen3,zone=us-east5-b", true},
		{" model = qwen3 , zone=us-east5-a", false},
		{"model!=llama", true},
		{"model!=qwen3", false},
		{"zone", true},
		{"rack", false},
		{"!rack", true},
		{"!zone", false},
		{"rack!=x", true},
	}
	for _, tt := range tests {
		s, err := Parse(tt.sel)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.sel, err)
		}
		if got := s.Matches(labels); got != tt.want {
			t.Errorf("Parse(%q).Matches = %v, want %v", tt.sel, got, tt.want)
		}
		if again, err := Parse(s.String()); err != nil || again.String() != s.String() {
			t.Errorf("Parse(%q).String() = %q does not round-trip", tt.sel, s.String())
		}
	}
}

func TestParseBad(t *testing.T) {
	for _, s := range []string{",", "a,,b", "=x", "a b=c", "!", "a=b,"} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v, want ErrSyntax", s, err)
		}
	}
}
