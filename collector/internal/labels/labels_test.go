package labels

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		lim  Limits
		in   map[string]string
		want string // in the error; "" means within the limits
	}{
		{"none", Limits{}, nil, ""},
		{"usual", Limits{}, map[string]string{"model": "qwen3", "zone": "us-east5-b"}, ""},
		{"too many", Limits{}, many, "65 labels, at most 64"},
		{"count set", Limits{MaxCount: 1}, map[string]string{"a": "1", "b": "2"}, "2 labels, at most 1"},
		{"long key", Limits{}, map[string]string{strings.Repeat("k", 129): "v"}, "is 129 bytes, at most 128"},
		{"long value", Limits{}, map[string]string{"k": strings.Repeat("v", 257)}, "value of 257 bytes, at most 256"},
		{"at the bounds", Limits{}, map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 256)}, ""},
		{"empty key", Limits{}, map[string]string{"": "v"}, "empty key"},
	}
	for _, tt := range tests {
		err := tt.lim.Check(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: Check = %v, want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want ErrLimit with %q", tt.name, err, tt.want)
		}
	}
}
