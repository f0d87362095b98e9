//go:build goexperiment.jsonv2 && unix

// A baseline for Walk: the same bytes read with encoding/json/jsontext, which
// Go 1.26 builds only with GOEXPERIMENT=jsonv2:
//
//	GOEXPERIMENT=jsonv2 go test -run '^$' -bench 'Walk|Jsontext' ./plugins/sdk/capture/tracejson/

package tracejson

import (
	"bytes"
	"context"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// BenchmarkJsontext reads the inputs of BenchmarkWalk with a
// jsontext.Decoder, token by token, extracting what Walk extracts from every
// event (ph, name, pid, tid, ts, dur) with Walk's own number parsers, so that
// the difference is the tokenizer. "strict" is jsontext's default (it
// validates UTF-8 and rejects duplicate names, which Walk does not);
// "lenient" checks what Walk checks; "walk" is benchWalk again, beside them.
// Each also reports cpu-MB/s, from the process's CPU time, which a loaded
// machine disturbs less than the wall clock.
func BenchmarkJsontext(b *testing.B) {
	inputs := []struct {
		name string
		data func(b *testing.B) []byte
	}{
		{"seed-replica", func(b *testing.B) []byte {
			return fixtures.ReadFile(b, filepath.Join(fixtures.Dir(b), "seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz"))
		}},
		{"synthetic-100MB", func(*testing.B) []byte { return synthetic(100 << 20) }},
	}
	lenient := []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			data := in.data(b)
			b.Run("walk", func(b *testing.B) {
				defer reportCPU(b, len(data))()
				benchWalk(b, data)
			})
			for _, mode := range []struct {
				name string
				opts []jsontext.Options
			}{
				{"strict", nil},
				{"lenient", lenient},
			} {
				b.Run(mode.name, func(b *testing.B) {
					defer reportCPU(b, len(data))()
					b.SetBytes(int64(len(data)))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := jsontextWalk(bytes.NewReader(data), mode.opts...); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// reportCPU starts counting the process's CPU time; the function it returns
// reports size bytes per b.N over that time as cpu-MB/s.
func reportCPU(b *testing.B, size int) func() {
	start := cpuTime(b)
	return func() {
		if d := cpuTime(b) - start; d > 0 {
			b.ReportMetric(float64(size)*float64(b.N)/1e6/d.Seconds(), "cpu-MB/s")
		}
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestJsontextBaseline checks that the baseline reads what Walk reads: the
// same complete events, with the same names.
func TestJsontextBaseline(t *testing.T) {
	check := func(t *testing.T, data []byte) {
		var want counter
		if _, err := Walk(context.Background(), bytes.NewReader(data), &want, WalkOptions{}); err != nil {
			t.Fatal(err)
		}
		if want.n == 0 {
			t.Fatal("Walk found no complete events")
		}
		got, err := jsontextWalk(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if got.n != want.n || got.bytes != want.bytes {
			t.Errorf("jsontextWalk: %d X events, %d name bytes; Walk: %d, %d", got.n, got.bytes, want.n, want.bytes)
		}
	}
	t.Run("synthetic", func(t *testing.T) { check(t, synthetic(1<<20)) })
	t.Run("seed-replica", func(t *testing.T) {
		check(t, fixtures.ReadFile(t, filepath.Join(fixtures.Dir(t), "seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz")))
	})
}

// jsontextWalk reads the traceEvents array of r and counts its complete (X)
// events and the bytes of their names, as the counting Visitor does; it also
// parses each event's pid, tid, ts and dur as Walk does, and sums the times
// so that the work is not optimized away.
func jsontextWalk(r io.Reader, opts ...jsontext.Options) (counter, error) {
	var c counter
	dec := jsontext.NewDecoder(r, opts...)
	if err := readDelim(dec, '{'); err != nil {
		return c, err
	}
	var scratch []byte
	for dec.PeekKind() == '"' {
		key, err := dec.ReadValue()
		if err != nil {
			return c, err
		}
		if k, err := unquoted(key, &scratch); err != nil || string(k) != "traceEvents" {
			if err == nil {
				err = dec.SkipValue()
			}
			if err != nil {
				return c, err
			}
			continue
		}
		if err := readDelim(dec, '['); err != nil {
			return c, err
		}
		var sum int64
		for dec.PeekKind() == '{' {
			if err := jsontextEvent(dec, &c, &sum, &scratch); err != nil {
				return c, err
			}
		}
		if err := readDelim(dec, ']'); err != nil {
			return c, err
		}
		if sum == 0 && c.n > 0 {
			return c, errors.New("no times")
		}
	}
	return c, readDelim(dec, '}')
}

// jsontextEvent reads one event object.
func jsontextEvent(dec *jsontext.Decoder, c *counter, sum *int64, scratch *[]byte) error {
	if err := readDelim(dec, '{'); err != nil {
		return err
	}
	var (
		isX, hasTS        bool
		nameLen           int
		pid, tid, ts, dur int64
	)
	for dec.PeekKind() == '"' {
		k, err := dec.ReadValue()
		if err != nil {
			return err
		}
		key, err := unquoted(k, scratch)
		if err != nil {
			return err
		}
		field := keyOf(key) // Walk's own key matching
		switch field {
		case keyPh, keyName, keyPid, keyTid, keyTs, keyDur:
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		quoted := v.Kind() == '"'
		switch field {
		case keyPh, keyName:
			if !quoted {
				return fmt.Errorf("ph or name %s is not a string", v)
			}
			s, err := unquoted(v, scratch)
			if err != nil {
				return err
			}
			if field == keyPh {
				isX = len(s) == 1 && s[0] == 'X'
			} else {
				nameLen = len(s)
			}
			continue
		}
		num := []byte(v)
		if quoted {
			num = num[1 : len(num)-1]
		}
		switch field {
		case keyPid, keyTid:
			n, ok := parseID(num)
			if !ok && !quoted { // Walk gives other strings ids of their own
				return fmt.Errorf("pid or tid %s is not an integer or a string", v)
			}
			if field == keyPid {
				pid = n
			} else {
				tid = n
			}
		case keyTs, keyDur:
			us, ps, what := parseTime(num)
			if what != "" {
				return fmt.Errorf("ts or dur %s", what)
			}
			if field == keyTs {
				ts, hasTS = us*psPerUS+ps, true
			} else {
				dur = us*psPerUS + ps
			}
		}
	}
	if err := readDelim(dec, '}'); err != nil {
		return err
	}
	if !isX {
		return nil
	}
	if !hasTS {
		return errors.New("complete (X) event without ts")
	}
	c.n++
	c.bytes += int64(nameLen)
	*sum += ts + dur + pid + tid
	return nil
}

// readDelim reads the token '{', '}', '[' or ']'.
func readDelim(dec *jsontext.Decoder, want jsontext.Kind) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != want {
		return fmt.Errorf("at %d: got %v, want %v", dec.InputOffset(), tok.Kind(), want)
	}
	return nil
}

// unquoted returns the contents of the JSON string v, unescaped into scratch
// only when it holds an escape.
func unquoted(v jsontext.Value, scratch *[]byte) ([]byte, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	var err error
	*scratch, err = jsontext.AppendUnquote((*scratch)[:0], v)
	return *scratch, err
}
