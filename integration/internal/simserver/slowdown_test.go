package simserver

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseSlowdown(t *testing.T) {
	tests := []struct {
		in      string
		want    string // formatted back; "" for none
		wantErr bool
	}{
		{"", "", false},
		{"attention=1.4", "attention=1.4", false},
		{"attention=1.4, sampler=0.5", "attention=1.4,sampler=0.5", false},
		{`rpa-\d+=2`, `rpa-\d+=2`, false},
		{"attention", "", true},
		{"=2", "", true},
		{"attention=0", "", true},
		{"attention=-1", "", true},
		{"attention=101", "", true},
		{"attention=fast", "", true},
		{"(=2", "", true},
	}
	for _, tt := range tests {
		got, err := ParseSlowdown(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("ParseSlowdown(%q) err = %v, want ErrConfig", tt.in, err)
			}
			continue
		}
		if err != nil || formatSlowdown(got) != tt.want {
			t.Errorf("ParseSlowdown(%q) = %q, %v; want %q", tt.in, formatSlowdown(got), err, tt.want)
		}
	}
}

func TestSlowdownScalesMatchingOps(t *testing.T) {
	base, err := parseOpTable(seedOpStats)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := ParseSlowdown("attention=1.4,^dot_general$=0.5")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Slowdown: sl})
	if err != nil {
		t.Fatal(err)
	}
	var attn, dots, rest int
	var wantTotal int64
	for i, o := range base.ops {
		got := s.ops.ops[i].total
		want := o.total
		switch {
		case strings.Contains(strings.ToLower(o.operation), "attention"):
			want = int64(math.Round(float64(o.total) * 1.4))
			attn++
		case o.typ == "dot_general":
			want = int64(math.Round(float64(o.total) * 0.5))
			dots++
		default:
			rest++
		}
		wantTotal += want
		if got != want {
			t.Errorf("op %s (%s): total %d, want %d", o.operation, o.typ, got, want)
		}
	}
	if attn == 0 || dots == 0 || rest == 0 {
		t.Errorf("ops matched: %d attention, %d dot_general, %d others; want some of each", attn, dots, rest)
	}
	if s.ops.total != wantTotal {
		t.Errorf("table total %d, want %d", s.ops.total, wantTotal)
	}
	// The first matching pattern wins: attention matmuls are 1.4×, not 0.5×.
	if _, err := New(Config{Slowdown: []Slowdown{{Factor: 2}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("New(slowdown without pattern) = %v, want ErrConfig", err)
	}
}
