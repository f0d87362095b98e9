package retention

import (
	"errors"
	"testing"
)

// FuzzParse: any bytes either parse into a valid policy with its defaults
// set, or fail with ErrInvalid; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("retention:\n  rules:\n    - selector: model=q\n      max_age: 30d\n      max_bytes: 1GiB\n"))
	f.Add([]byte("retention:\n  batch_size: 0\n"))
	f.Add([]byte("retention: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v is not ErrInvalid", err)
			}
			return
		}
		p := file.Retention
		if p.Interval <= 0 || p.BatchSize <= 0 {
			t.Fatalf("Parse = %+v: defaults not set", p)
		}
		for _, r := range p.Rules {
			if r.Name == "" || (r.MaxAge <= 0 && r.MaxBytes <= 0) {
				t.Fatalf("Parse accepted rule %+v", r)
			}
		}
	})
}
