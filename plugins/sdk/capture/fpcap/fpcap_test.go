package fpcap

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func sample() *capture.Capture {
	c := &capture.Capture{
		BaseNS: 1_770_323_795_654_017_600, Span: capture.Interval{Start: -5, End: 9_000_000},
		Gap: capture.DefaultGap, Pad: capture.DefaultPad, EventsTotal: 42,
		Windows:  []capture.Interval{{Start: 10, End: 20}, {Start: 100, End: 200}},
		Source:   capture.Source{Format: "xplane", Name: "h.xplane.pb"},
		Warnings: []string{"w"}, Context: map[string]string{"host": "h"},
		Planes: []*capture.Plane{
			{ID: 0, Name: "/device:TPU:0", Busy: 77, OpEvents: 3, OpTotal: 80, EventsTotal: 5, Lines: []*capture.Line{
				{ID: 3, DisplayID: 3, Name: "XLA Ops", Events: []capture.Event{
					{Name: "fusion", Start: 10, Dur: 5, Self: 5, Stats: []capture.Stat{
						{Name: "tf_op", Kind: capture.StatString, Str: "jit(f)/dot_general:dot_general"},
						{Name: "flops", Kind: capture.StatUint, Uint: 1 << 40},
						{Name: "i", Kind: capture.StatInt, Int: -3},
						{Name: "d", Kind: capture.StatDouble, Double: 0.5},
						{Name: "b", Kind: capture.StatBytes, Bytes: []byte{0, 1}},
					}},
				}},
				{ID: 2, Name: "XLA Modules"},
			}},
			{ID: 700, Name: "/host:CPU", Stats: []capture.Stat{{Name: "p", Kind: capture.StatString, Str: "v"}}, Lines: []*capture.Line{
				{ID: 102, DisplayID: 102, Name: "python3", DisplayName: "py", Events: []capture.Event{{Name: "loop", DisplayName: "L", Start: -5, Dur: 9_000_005, Self: 9_000_000}}},
			}},
		},
		Dropped: []capture.Dropped{{Plane: 1, Line: 0, Name: "poll", Count: 7, Total: 70, Self: 60}},
	}
	return c
}

// encode writes c as an .fpcap.
func encode(t testing.TB, c *capture.Capture) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrip writes c as an .fpcap and reads it back.
func roundTrip(t testing.TB, c *capture.Capture) *capture.Capture {
	t.Helper()
	got, err := Read(bytes.NewReader(encode(t, c)))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	c := sample()
	got := roundTrip(t, c)
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestBatchesStayBounded(t *testing.T) {
	c := sample()
	l := c.Planes[1].Lines[0]
	name := string(bytes.Repeat([]byte("x"), 200))
	for i := range 20000 {
		l.Events = append(l.Events, capture.Event{Name: name, Start: int64(i), Dur: 1})
	}
	records := 0
	err := Records(c, func(r *capturev1.Record) error {
		records++
		if n := proto.Size(r); n > 2*batchBytes {
			t.Errorf("record %d is %d bytes, want under %d", records, n, 2*batchBytes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if records < 5 {
		t.Errorf("%d records for 4 MB of events, want the events cut into batches", records)
	}
	got := roundTrip(t, c)
	if got.EventsKept() != c.EventsKept() {
		t.Errorf("kept = %d, want %d", got.EventsKept(), c.EventsKept())
	}
}

func TestReadErrors(t *testing.T) {
	full := encode(t, sample())
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotFpcap},
		{"bad magic", []byte("FPCAQ\x00\x01\nxxxx"), ErrNotFpcap},
		{"magic only", []byte(Magic), ErrTruncated},
		{"cut in a record", full[:len(full)/2], ErrTruncated},
		{"cut before footer", full[:len(full)-4], ErrTruncated},
		{"huge length", append([]byte(Magic), 0xff, 0xff, 0xff, 0xff, 0x0f), ErrTooLarge},
		{"garbage record", append([]byte(Magic), 3, 0xff, 0xff, 0xff), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Read = %v, want %v", err, tt.want)
			}
		})
	}
	// Every truncation fails cleanly.
	for i := 0; i < len(full); i++ {
		if _, err := Read(bytes.NewReader(full[:i])); err == nil {
			t.Fatalf("Read(first %d of %d bytes) succeeded", i, len(full))
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		// What reads must write and read back the same.
		var out bytes.Buffer
		if err := Write(&out, c); err != nil {
			t.Fatalf("Write after Read: %v", err)
		}
		if _, err := Read(&out); err != nil {
			t.Fatalf("Read after Write: %v", err)
		}
	})
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus under testdata/fuzz")

// TestSeedCorpus keeps the committed seed corpus: a whole capture, truncated
// ones, and damaged ones. With -update-corpus it rewrites them.
func TestSeedCorpus(t *testing.T) {
	full := encode(t, sample())
	flipped := append([]byte(nil), full...)
	flipped[len(flipped)/3] ^= 0xff
	seeds := map[string][]byte{
		"whole":     full,
		"magic":     []byte(Magic),
		"half":      full[:len(full)/2],
		"no-footer": full[:len(full)-4],
		"flipped":   flipped,
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) < len(seeds) {
		t.Fatalf("seed corpus in %s: %d files, %v; run go test -run TestSeedCorpus -update-corpus", dir, len(ents), err)
	}
}
