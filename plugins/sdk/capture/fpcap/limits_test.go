package fpcap

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// emptyEvents returns an .fpcap of about size bytes whose events are all
// empty: 2 bytes each on the wire. It is well formed; only its cost is
// hostile (issue 13, finding 2).
func emptyEvents(t testing.TB, size int) []byte {
	t.Helper()
	var out []byte
	out = append(out, Magic...)
	records := int64(0)
	rec := func(r *capturev1.Record) {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = protowire.AppendVarint(out, uint64(len(b)))
		out = append(out, b...)
		records++
	}
	rec(&capturev1.Record{Kind: &capturev1.Record_Header{Header: &capturev1.Header{FormatVersion: FormatVersion}}})
	rec(&capturev1.Record{Kind: &capturev1.Record_Plane{Plane: &capturev1.Plane{Name: "/device:TPU:0", Lines: []*capturev1.Line{{Name: "XLA Ops"}}}}})
	const perBatch = 1 << 19 // 1 MiB records
	batch := bytes.Repeat([]byte{0x1a, 0x00}, perBatch)
	body := protowire.AppendTag(nil, 3, protowire.BytesType)
	body = protowire.AppendBytes(body, batch) // Record.events = EventBatch{events: [{}...]}
	var events int64
	for len(out) < size {
		out = protowire.AppendVarint(out, uint64(len(body)))
		out = append(out, body...)
		records++
		events += perBatch
	}
	b, err := proto.Marshal(&capturev1.Record{Kind: &capturev1.Record_Footer{Footer: &capturev1.Footer{EventsKept: events, Records: records - 1}}})
	if err != nil {
		t.Fatal(err)
	}
	out = protowire.AppendVarint(out, uint64(len(b)))
	return append(out, b...)
}

// allocated returns the bytes fn allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestEmptyEventsRefusedCheaply is finding 2 of issue 13: 16 MB of empty
// events took the collector to 4.3 GB. Now the first record is refused
// before it is decoded, having allocated a few MiB.
func TestEmptyEventsRefusedCheaply(t *testing.T) {
	in := emptyEvents(t, 16<<20)
	var err error
	n := allocated(func() { _, err = Read(bytes.NewReader(in)) })
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "expansion=") {
		t.Errorf("Read(16 MB of empty events) = %v, want ErrLimit naming expansion", err)
	}
	if n > 16<<20 {
		t.Errorf("refusing 16 MB of empty events allocated %d MiB, want under 16", n>>20)
	}
	// The plugin side: records arrive decoded; the builder still refuses.
	b := NewBuilder()
	err = nil
	for rec, rerr := range records(t, in) {
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err = b.Add(rec); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrLimit) {
		t.Errorf("Builder.Add over 16 MB of empty events = %v, want ErrLimit", err)
	}
}

// records decodes the records of an .fpcap without limits.
func records(t testing.TB, in []byte) func(yield func(*capturev1.Record, error) bool) {
	return func(yield func(*capturev1.Record, error) bool) {
		in = in[len(Magic):]
		for len(in) > 0 {
			n, k := protowire.ConsumeVarint(in)
			if k < 0 {
				yield(nil, protowire.ParseError(k))
				return
			}
			in = in[k:]
			r := &capturev1.Record{}
			err := proto.Unmarshal(in[:n], r)
			in = in[n:]
			if !yield(r, err) {
				return
			}
		}
	}
}

// big returns a capture of n events on one line, each with stats stats
// and a name of nameLen bytes.
func big(n, stats, nameLen int) *capture.Capture {
	c := &capture.Capture{Planes: []*capture.Plane{{Name: "/device:TPU:0", Lines: []*capture.Line{{Name: "XLA Ops"}}}}}
	l := c.Planes[0].Lines[0]
	name := strings.Repeat("f", nameLen)
	for i := range n {
		e := capture.Event{Name: name, Start: int64(i) * 1_000_000, Dur: 900_000, Self: 900_000}
		for range stats {
			e.Stats = append(e.Stats, capture.Stat{Name: "tf_op", Kind: capture.StatString, Str: "jit(f)/dot_general:dot_general"})
		}
		l.Events = append(l.Events, e)
	}
	return c
}

func TestLimits(t *testing.T) {
	write := func(c *capture.Capture) []byte { return encode(t, c) }
	planes := &capture.Capture{}
	for range 5 {
		planes.Planes = append(planes.Planes, &capture.Plane{Name: "/host:CPU", Lines: []*capture.Line{{Name: "a"}, {Name: "b"}}})
	}
	ctx := &capture.Capture{Context: map[string]string{"a": "1", "b": "2", "c": strings.Repeat("x", 100)}, Warnings: []string{"w1", "w2"}}
	dropped := &capture.Capture{Planes: []*capture.Plane{{Name: "/host:CPU", Lines: []*capture.Line{{Name: "a"}}}}}
	for range 3 {
		dropped.Dropped = append(dropped.Dropped, capture.Dropped{Name: "poll", Count: 1})
	}
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		key  string // "" means it reads
	}{
		{"defaults", write(big(1000, 4, 20)), Limits{}, ""},
		{"planes", write(planes), Limits{MaxPlanes: 4}, "planes="},
		{"lines", write(planes), Limits{MaxLines: 9}, "lines="},
		{"events", write(big(100, 0, 10)), Limits{MaxEvents: 99}, "events="},
		{"events at the bound", write(big(100, 0, 10)), Limits{MaxEvents: 100}, ""},
		{"stats", write(big(10, 3, 10)), Limits{MaxStats: 29}, "stats="},
		{"string", write(big(1, 0, 5000)), Limits{MaxStringBytes: 4096}, "string="},
		{"context", write(ctx), Limits{MaxContext: 2}, "context="},
		{"context bytes", write(ctx), Limits{MaxContextBytes: 50}, "context_bytes="},
		{"warnings", write(ctx), Limits{MaxWarnings: 1}, "warnings="},
		{"dropped", write(dropped), Limits{MaxDropped: 2}, "dropped="},
		{"decoded", write(big(10000, 0, 10)), Limits{MaxDecodedBytes: 500_000}, "decoded="},
		{"expansion", write(big(200000, 0, 1)), Limits{MaxExpansion: 4}, "expansion="},
		{"no limits", write(big(100, 3, 5000)), Limits{MaxEvents: -1, MaxStats: -1, MaxStringBytes: -1, MaxExpansion: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadWith(bytes.NewReader(tt.in), Options{Limits: tt.lim})
			if tt.key == "" {
				if err != nil {
					t.Fatalf("ReadWith(%v) = %v, want it read", tt.lim, err)
				}
			} else if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("ReadWith(%v) = %v, want ErrLimit naming %s", tt.lim, err, tt.key)
			}
			// The plugin side, with decoded records, agrees.
			b := NewBuilderWith(Options{Limits: tt.lim})
			var aerr error
			for rec, rerr := range records(t, tt.in) {
				if rerr != nil {
					t.Fatal(rerr)
				}
				if aerr = b.Add(rec); aerr != nil {
					break
				}
			}
			if (aerr == nil) != (tt.key == "") || (aerr != nil && !strings.Contains(aerr.Error(), tt.key)) {
				t.Errorf("Builder.Add with %v = %v, want a refusal naming %q", tt.lim, aerr, tt.key)
			}
		})
	}
}

func TestSkipEvents(t *testing.T) {
	kept, c, err := ReadCount(bytes.NewReader(encode(t, sample())), Options{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := sample().EventsKept(); kept != want || c.EventsKept() != 0 {
		t.Errorf("ReadCount(SkipEvents) kept %d (capture holds %d), want %d (and 0)", kept, c.EventsKept(), want)
	}
	if len(c.Planes) != 2 || c.Context["host"] != "h" {
		t.Errorf("SkipEvents lost the planes or the header: %+v", c)
	}
}

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits(" events=10000000, string=2MiB,expansion=32,decoded=-1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MaxEvents: 10_000_000, MaxStringBytes: 2 << 20, MaxExpansion: 32, MaxDecodedBytes: -1}
	if got != want {
		t.Errorf("ParseLimits = %+v, want %+v", got, want)
	}
	back, err := ParseLimits(got.String())
	if err != nil || back != got.withDefaults() {
		t.Errorf("ParseLimits(%q) = %+v, %v; want %+v", got.String(), back, err, got.withDefaults())
	}
	if s := DefaultLimits().String(); !strings.Contains(s, "events=5000000") || !strings.Contains(s, "expansion=16") {
		t.Errorf("DefaultLimits().String() = %q", s)
	}
	for _, bad := range []string{"events", "events=", "events=0", "events=x", "nope=1", "expansion=0", "string=1TiB", "events=-2"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) succeeded", bad)
		}
	}
}

// BenchmarkReadEmptyEvents reads 16 MB of empty events with the default
// limits (refused after one record) and, for the figure in BENCHMARKS.md,
// without limits (what the collector did before).
func BenchmarkReadEmptyEvents(b *testing.B) {
	in := emptyEvents(b, 16<<20)
	for _, bc := range []struct {
		name string
		lim  Limits
	}{
		{"default", Limits{}},
		{"unlimited", Limits{MaxPlanes: -1, MaxLines: -1, MaxEvents: -1, MaxStats: -1, MaxDecodedBytes: -1, MaxExpansion: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			var peak uint64
			for b.Loop() {
				_, _ = ReadWith(bytes.NewReader(in), Options{Limits: bc.lim})
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapSys)
			}
			b.ReportMetric(float64(peak)/(1<<20), "heap-sys-MiB")
		})
	}
}

func TestLimitsCheck(t *testing.T) {
	c := big(100, 2, 10)
	if err := (Limits{}).Check(c); err != nil {
		t.Errorf("Check(100 events) with the defaults = %v", err)
	}
	for _, tt := range []struct {
		lim Limits
		key string
	}{
		{Limits{MaxEvents: 99}, "events=99"},
		{Limits{MaxStats: 199}, "stats=199"},
		{Limits{MaxStringBytes: 20}, "string=20"},
		{Limits{MaxDecodedBytes: 1000}, "decoded=1000"},
	} {
		if err := tt.lim.Check(c); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%+v.Check(100 events, 200 stats) = %v, want ErrLimit naming %s", tt.lim, err, tt.key)
		}
	}
}
