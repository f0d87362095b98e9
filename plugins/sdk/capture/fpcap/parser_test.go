package fpcap

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseSplit feeds b to a Parser in pieces cut at random.
func parseSplit(b []byte, o Options, seed uint64) (Tally, error) {
	p := NewParser(o)
	r := rand.New(rand.NewPCG(seed, 1))
	for len(b) > 0 {
		n := min(len(b), 1+r.IntN(3+r.IntN(len(b)+1)))
		if _, err := p.Write(b[:n]); err != nil {
			break
		}
		b = b[n:]
	}
	t, _, err := p.Close()
	return t, err
}

// parseAgrees fails t unless a Parser fed b in pieces ends as ReadTally
// does: both fail (both on a limit or neither), or both give one Tally.
func parseAgrees(t *testing.T, b []byte, o Options, seed uint64) {
	t.Helper()
	want, _, wantErr := ReadTally(bytes.NewReader(b), o)
	got, err := parseSplit(b, o, seed)
	if (err == nil) != (wantErr == nil) || errors.Is(err, ErrLimit) != errors.Is(wantErr, ErrLimit) {
		t.Fatalf("Parser = %v, ReadTally = %v", err, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parser's Tally differs from ReadTally's (-want +got):\n%s", diff)
	}
}

func TestParser(t *testing.T) {
	full := encode(t, sample())
	p := NewParser(Options{})
	if _, err := p.Write(append(bytes.Clone(full), "after the footer"...)); err != nil {
		t.Fatal(err)
	}
	_, c, err := p.Close()
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := Write(&again, c); err != nil || !bytes.Equal(again.Bytes(), full) {
		t.Errorf("the Parser's capture, written again, differs from the file (%v)", err)
	}
	for seed := range uint64(50) {
		for _, o := range []Options{{}, {SkipEvents: true}, {Limits: Limits{MaxEvents: 2}}} {
			parseAgrees(t, full, o, seed)
		}
		parseAgrees(t, full[:int(seed)*len(full)/50], Options{}, seed)
		flipped := bytes.Clone(full)
		flipped[int(seed)*len(full)/50] ^= 0xff
		parseAgrees(t, flipped, Options{SkipEvents: true}, seed)
	}
	for _, b := range [][]byte{nil, []byte("FPCAP"), []byte("not an fpcap file"), []byte(Magic)} {
		parseAgrees(t, b, Options{}, 1)
	}
}

func FuzzParser(f *testing.F) {
	f.Add(encode(f, sample()), uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		parseAgrees(t, b, Options{SkipEvents: true}, seed)
	})
}
