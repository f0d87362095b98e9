package tracejson

import (
	"bytes"
	"context"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// FuzzWalk feeds Walk arbitrary bytes. It must never panic or hang; it must
// give the same answer whatever its buffer size; and every event it hands
// over must load back from its Ref with the same name.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","pid":1,"tid":2,"ts":1.5,"dur":2,"name":"a"},{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var big, small capturetest.Recorder
		stBig, errBig := Walk(context.Background(), bytes.NewReader(data), &big, WalkOptions{BufferSize: 4096, MaxDepth: 16})
		size := 1 + len(data)%23
		stSmall, errSmall := Walk(context.Background(), bytes.NewReader(data), &small, WalkOptions{BufferSize: size, MaxDepth: 16})
		if errString(errBig) != errString(errSmall) {
			t.Fatalf("errors differ: buffer 4 KiB: %v; buffer %d: %v", errBig, size, errSmall)
		}
		if len(big.Events) != len(small.Events) || stBig.X != stSmall.X || stBig.Events != stSmall.Events {
			t.Fatalf("results differ: %+v vs %+v (buffer %d)", stBig, stSmall, size)
		}
		for i := range big.Events {
			if big.Events[i] != small.Events[i] {
				t.Fatalf("event %d differs: %+v vs %+v (buffer %d)", i, big.Events[i], small.Events[i], size)
			}
		}
		if errBig != nil {
			if !strings.HasPrefix(errBig.Error(), "tracejson: ") {
				t.Fatalf("error without the package prefix: %v", errBig)
			}
			return
		}
		if !stBig.Complete || stBig.Bytes != int64(len(data)) {
			t.Fatalf("success but Stats = %+v for %d bytes", stBig, len(data))
		}
		ld := NewLoader(bytes.NewReader(data))
		for _, e := range big.Events {
			r := e.Ref
			if r.Off < 0 || r.Len < 2 || r.Off+r.Len > int64(len(data)) || data[r.Off] != '{' || data[r.Off+r.Len-1] != '}' {
				t.Fatalf("ref %+v does not hold an object", r)
			}
			var ev capture.Event
			if err := ld.Load(r, &ev); err != nil {
				t.Fatalf("Load(%+v) = %v", r, err)
			}
			if ev.Name != e.Name {
				t.Fatalf("Load(%+v).Name = %q, Walk gave %q", r, ev.Name, e.Name)
			}
			if e.Dur < 0 {
				t.Fatalf("negative duration %d", e.Dur)
			}
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// jsonNumber matches the numbers parseTime must accept (leading zeros
// allowed, no sign but '-').
var jsonNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// FuzzParseTime checks parseTime against exact rational arithmetic.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "1770323795654.017629", "1.5e3", "0.0000005", "-0", "NaN", "9223372036854775.9999995"} {
		f.Add(s)
	}
	million := big.NewRat(1_000_000, 1)
	f.Fuzz(func(t *testing.T, s string) {
		us, ps, what := parseTime([]byte(s))
		if what == "" && (us < 0 || us > maxUS || ps < 0 || ps >= psPerUS) {
			t.Fatalf("parseTime(%q) = %d, %d: out of range", s, us, ps)
		}
		if !jsonNumber.MatchString(s) {
			if what == "" {
				t.Fatalf("parseTime(%q) = %d, %d: accepted something that is not a JSON number", s, us, ps)
			}
			return
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			if e, err := strconv.Atoi(s[i+1:]); err != nil || e > 400 || e < -400 {
				return // too big for exact rational arithmetic here
			}
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot parse %q", s)
		}
		// Exact picoseconds, rounded half to even.
		r.Mul(r, million)
		if r.Sign() < 0 {
			if what == "" && r.Sign() != 0 {
				t.Fatalf("parseTime(%q) accepted a negative time", s)
			}
			if what == "" && (us != 0 || ps != 0) {
				t.Fatalf("parseTime(%q) = %d, %d for a negative zero", s, us, ps)
			}
			return
		}
		want, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
		// Compare twice the remainder with the denominator: above half
		// rounds up, exactly half rounds to the even neighbour.
		switch c := new(big.Int).Lsh(rem, 1).Cmp(r.Denom()); {
		case c > 0, c == 0 && want.Bit(0) == 1:
			want.Add(want, big.NewInt(1))
		}
		limit := new(big.Int).Mul(big.NewInt(maxUS+1), big.NewInt(psPerUS))
		if want.Cmp(limit) >= 0 {
			if what == "" {
				t.Fatalf("parseTime(%q) = %d, %d, want too large", s, us, ps)
			}
			return
		}
		if what != "" {
			t.Fatalf("parseTime(%q) rejected it: %s", s, what)
		}
		got := new(big.Int).Add(new(big.Int).Mul(big.NewInt(us), big.NewInt(psPerUS)), big.NewInt(ps))
		if got.Cmp(want) != 0 {
			t.Fatalf("parseTime(%q) = %d.%06d, want %s ps", s, us, ps, want)
		}
	})
}
