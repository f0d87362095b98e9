package xplane

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// readAll opens b, walks it and loads every event, returning the first error.
func readAll(b []byte) (*capturetest.Recorder, error) {
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	r := &capturetest.Recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		return r, err
	}
	for _, e := range r.Events {
		var ev capture.Event
		if err := f.Load(e.Ref, &ev); err != nil {
			return r, err
		}
	}
	return r, nil
}

// space wraps planes and other top-level fields into a file.
func space(parts ...[]byte) []byte { return concat(parts...) }

// onePlane is a file with one plane of one line with the given events, and
// event metadata 1 named "op".
func onePlane(events ...[]byte) []byte {
	return space(xPlane(1, "/device:TPU:0", [][]byte{xLine(1, "XLA Ops", 1000, events...)},
		xEventMeta(1, "op"), xStatMeta(1, "s")))
}

func TestMalformed(t *testing.T) {
	negEvent := xEvent(1, 10, -5)
	tests := []struct {
		name    string
		in      []byte
		want    error
		what    string // substring of FormatError.What
		wantOff int64  // -1: anywhere
	}{
		{"empty", nil, ErrEmpty, "", -1},
		{"planes as varint", fVarint(1, 5), ErrMalformed, "XSpace field 1 has wire type 0, want 2", 0},
		{"hostnames as fixed32", fFixed32(4, 5), ErrMalformed, "XSpace field 4 has wire type 5, want 2", 0},
		{"plane id as bytes", fBytes(1, fString(1, "x")), ErrMalformed, "XPlane field 1 has wire type 2, want 0", 2},
		{"plane past end of file", []byte{0x0a, 0x64, 0x08, 0x01}, ErrMalformed, "length 100 runs past the end of the file", 1},
		{"bad varint", append([]byte{0x48}, bytes.Repeat([]byte{0xff}, 11)...), ErrMalformed, "bad varint", 1},
		{"truncated varint", []byte{0x48, 0xff}, ErrMalformed, "file ends inside a varint", 1},
		{"truncated fixed64", []byte{0x49, 1, 2, 3}, ErrMalformed, "a value of 8 bytes runs past the end of the file", 1},
		{"group wire type", []byte{0x4b, 0x4c}, ErrMalformed, "wire type 3 is not used", 1},
		{"field number 0", []byte{0x00}, ErrMalformed, "bad field number 0", 0},
		{"event_metadata value as varint", fBytes(1, fBytes(4, fInt(1, 1), fInt(2, 7))), ErrMalformed,
			"event_metadata entry field 2 has wire type 0, want 2", 6},
		{"metadata stat double as varint", space(xPlane(1, "p", nil, xEventMeta(1, "a", concat(fInt(1, 1), fInt(2, 5))))),
			ErrMalformed, "XStat field 2 has wire type 0, want 1", -1},
		{"stat_metadata name as varint", fBytes(1, fBytes(5, fInt(1, 1), fBytes(2, fInt(2, 3)))), ErrMalformed,
			"XStatMetadata field 2 has wire type 0, want 2", -1},
		{"line timestamp as fixed64", space(xPlane(1, "p", [][]byte{concat(fInt(1, 1), fFixed64(3, 5), fBytes(4, xEvent(1, 0, 1)))})),
			ErrMalformed, "XLine field 3 has wire type 1, want 0", -1},
		{"line name as varint", space(xPlane(1, "p", [][]byte{concat(fInt(1, 1), fInt(2, 5))})),
			ErrMalformed, "XLine field 2 has wire type 0, want 2", -1},
		{"event offset as fixed64", onePlane(concat(fInt(1, 1), fFixed64(2, 5))), ErrMalformed,
			"XEvent field 2 has wire type 1, want 0", -1},
		{"event stats as varint", onePlane(concat(fInt(1, 1), fInt(2, 0), fInt(4, 3))), ErrMalformed,
			"XEvent field 4 has wire type 0, want 2", -1},
		{"event stat str as varint", onePlane(xEvent(1, 0, 1, concat(fInt(1, 1), fInt(5, 3)))), ErrMalformed,
			"XStat field 5 has wire type 0, want 2", -1},
		{"event past end of line", space(xPlane(1, "p", [][]byte{concat(fInt(1, 1), fInt(3, 5), []byte{0x22, 0x50, 0x08})}), fString(4, "host")),
			ErrMalformed, "length 80 runs past the end of its message", -1},
		{"varint past end of event", onePlane([]byte{0x08, 0x81}), ErrMalformed, "varint runs past the end of its message", -1},
		{"negative duration", onePlane(negEvent), ErrMalformed, "event duration_ps is negative (-5)",
			int64(bytes.Index(onePlane(negEvent), negEvent))},
		{"line too far from base", space(xPlane(1, "p", [][]byte{
			xLine(1, "a", 0, xEvent(1, 0, 1)),
			xLine(2, "b", math.MaxInt64/2, xEvent(1, 0, 1)),
		})), ErrMalformed, "event time overflows", -1},
		{"offset overflows", onePlane(xEvent(1, math.MaxInt64-5, 10)), ErrMalformed, "event time overflows", -1},
		{"bad gzip stat", onePlane(xEvent(1, 0, 1, concat(fInt(1, 1), fString(8, "not gzip")))), ErrMalformed,
			`stat "s": compressed_str_value`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("read = %v, want %v", err, tt.want)
			}
			if tt.want != ErrMalformed {
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("read = %v (%T), want a *FormatError", err, err)
			}
			if !strings.Contains(fe.What, tt.what) {
				t.Errorf("What = %q, want it to contain %q", fe.What, tt.what)
			}
			if tt.wantOff >= 0 && fe.Off != tt.wantOff {
				t.Errorf("Off = %d, want %d", fe.Off, tt.wantOff)
			}
			if fe.Off < 0 || fe.Off > int64(len(tt.in)) {
				t.Errorf("Off = %d, outside the %d-byte file", fe.Off, len(tt.in))
			}
		})
	}
}

func TestEmptyMessage(t *testing.T) {
	f, err := Open(bytes.NewReader(nil), 0)
	if !errors.Is(err, ErrEmpty) || f != nil {
		t.Fatalf("Open(0 bytes) = %v, %v, want ErrEmpty", f, err)
	}
	for _, want := range []string{"xplane: ", "0-byte", "2 GB", ".trace.json.gz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ErrEmpty = %q, want it to mention %q", err, want)
		}
	}
}

// topLevelEnds returns the offsets where the file's top-level fields end.
func topLevelEnds(t *testing.T, b []byte) map[int]bool {
	ends := map[int]bool{}
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			t.Fatal(protowire.ParseError(m))
		}
		off += n + m
		ends[off] = true
	}
	return ends
}

// TestTruncated cuts tiny at many offsets: a cut between top-level fields is
// a valid, smaller XSpace; any other must give a FormatError at or before
// the cut.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile(captures[0].path(t))
	if err != nil {
		t.Fatal(err)
	}
	ends := topLevelEnds(t, b)
	cuts := []int{1, 2, 3, 4, 10, 100, 1000, len(b) / 3, len(b) / 2, len(b) - 2, len(b) - 1}
	for c := 5; c < len(b); c += 97 {
		cuts = append(cuts, c)
	}
	for end := range ends {
		cuts = append(cuts, end, end+1)
	}
	var valid int
	for _, cut := range cuts {
		if cut <= 0 || cut > len(b) {
			continue
		}
		_, err := readAll(b[:cut])
		if ends[cut] {
			valid++
			if err != nil {
				t.Errorf("cut at %d (a field boundary): %v, want no error", cut, err)
			}
			continue
		}
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
			t.Errorf("cut at %d: %v, want a FormatError", cut, err)
			continue
		}
		if fe.Off > int64(cut) {
			t.Errorf("cut at %d: error at %d, past the cut", cut, fe.Off)
		}
	}
	if valid == 0 {
		t.Error("no cut fell on a field boundary")
	}
}

// TestGarbage feeds random bytes and mutated copies of tiny: no panic, no
// hang, and any error is ErrMalformed.
func TestGarbage(t *testing.T) {
	tiny, err := os.ReadFile(captures[0].path(t))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(name string, b []byte) {
		_, err := readAll(b)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrEmpty) {
			t.Errorf("%s: %v, want nil or ErrMalformed", name, err)
		}
	}
	for i := range 300 {
		b := make([]byte, rng.IntN(2000))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		check("random", b)
		// Random bytes behind a plausible start.
		check("random plane", append([]byte{0x0a, byte(len(b) & 0x7f)}, b...))
		m := bytes.Clone(tiny)
		for range 1 + i%8 {
			m[rng.IntN(len(m))] = byte(rng.Uint32())
		}
		check("mutated tiny", m)
	}
}

// TestAggregated checks that num_occurrences events are skipped and counted,
// and that the base comes from the first line with a timeline event.
func TestAggregated(t *testing.T) {
	b := space(xPlane(1, "/host:CPU", [][]byte{
		xLine(1, "agg only", 100, xAggEvent(1, 7, 0)),
		xLine(2, "mixed", 200, xEvent(1, 0, 10), xAggEvent(1, 3, 0), xEvent(1, 2500, 5),
			// The oneof's last field wins: num_occurrences then offset_ps.
			concat(fInt(1, 1), fInt(5, 4), fInt(2, 40), fInt(3, 1))),
	}, xEventMeta(1, "op")))
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.BaseNS(); got != 200 {
		t.Errorf("BaseNS() = %d, want 200", got)
	}
	r := &capturetest.Recorder{}
	if err := f.Walk(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var got [][2]int64
	for _, e := range r.Events {
		got = append(got, [2]int64{e.Start, e.Dur})
	}
	want := [][2]int64{{0, 10}, {2500, 5}, {40, 1}}
	if !slicesEqual(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	if got := f.Aggregated(); got != 2 {
		t.Errorf("Aggregated() = %d, want 2", got)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUnknownFields adds unknown fields of every wire type to every message
// and expects the same events.
func TestUnknownFields(t *testing.T) {
	unknown := concat(fVarint(90, 7), fFixed64(91, 8), fFixed32(92, 9), fString(93, "x"))
	build := func(u []byte) []byte {
		stat := concat(fInt(1, 1), u, fString(5, "v"))
		meta := concat(fInt(1, 1), fString(2, "op"), u, fString(3, "opaque metadata"), fBytes(5, stat),
			fBytes(6, protowire.AppendVarint(protowire.AppendVarint(nil, 2), 3)), fInt(6, 4))
		event := concat(fInt(1, 1), u, fInt(2, 5), fInt(3, 6), fBytes(4, stat))
		line := concat(fInt(1, 3), u, fString(2, "XLA Ops"), fInt(3, 1000), fBytes(4, event), u, fBytes(4, event), fInt(9, 77))
		plane := concat(fInt(1, 1), u, fString(2, "/device:TPU:0"), fBytes(3, line),
			fBytes(4, fInt(1, 1), u, fBytes(2, meta)), fBytes(5, fInt(1, 1), u, fBytes(2, fInt(1, 1), fString(2, "s"), u, fString(3, "d"))),
			fBytes(6, stat), u)
		return concat(u, fBytes(1, plane), u, fString(4, "host"), u)
	}
	load := func(b []byte) []capturetest.Loaded {
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		_, l := capturetest.WalkLoad(t, f)
		return l
	}
	want, got := load(build(nil)), load(build(unknown))
	if len(want) != 2 || !statsEqual(want[0].Stats, []capture.Stat{{Name: "s", Str: "v"}}) {
		t.Fatalf("without unknown fields: %+v", want)
	}
	if i := capturetest.FirstDiff(want, got); len(got) != len(want) || i >= 0 {
		t.Errorf("with unknown fields: %+v, want %+v", got, want)
	}
}

// TestLoadStats checks stat resolution and the merge of metadata and event
// stats.
func TestLoadStats(t *testing.T) {
	var gz bytes.Buffer
	zw := gzipWriter(&gz)
	zw.Write([]byte("hlo text"))
	zw.Close()
	metaStats := [][]byte{
		xStatStr(1, "a from meta"),
		concat(fInt(1, 2), fFixed64(2, math.Float64bits(2.5))),
		xStatInt(3, -3),
	}
	event := xEvent(1, 0, 1,
		concat(fInt(1, 2), fVarint(3, 99)),         // replaces b
		concat(fInt(1, 4), fVarint(7, 1)),          // ref to stat metadata 1's name
		concat(fInt(1, 5), fBytes(8, gz.Bytes())),  // gunzipped
		concat(fInt(1, 6), fString(6, "\x00\x01")), // bytes
		concat(fInt(1, 99)),                        // unknown name, no value
		xStatStr(1, "a from event"),                // replaces a
		xStatStr(4, "second d"),                    // d twice on the event: both kept
	)
	b := space(xPlane(1, "p", [][]byte{xLine(1, "l", 5, event)},
		concat(xEventMeta(1, "op", metaStats...), xStatMeta(1, "a"), xStatMeta(2, "b"), xStatMeta(3, "c"),
			xStatMeta(4, "d"), xStatMeta(5, "e"), xStatMeta(6, "f"))))
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	_, got := capturetest.WalkLoad(t, f)
	want := []capture.Stat{
		{Name: "a", Kind: capture.StatString, Str: "a from event"},
		{Name: "b", Kind: capture.StatUint, Uint: 99},
		{Name: "c", Kind: capture.StatInt, Int: -3},
		{Name: "d", Kind: capture.StatString, Str: "a"},
		{Name: "e", Kind: capture.StatString, Str: "hlo text"},
		{Name: "f", Kind: capture.StatBytes, Bytes: []byte{0, 1}},
		{Name: "", Kind: capture.StatString},
		{Name: "d", Kind: capture.StatString, Str: "second d"},
	}
	if len(got) != 1 || !statsEqual(got[0].Stats, want) {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func statsEqual(a, b []capture.Stat) bool {
	return capturetest.FirstDiff([]capturetest.Loaded{{Stats: a}}, []capturetest.Loaded{{Stats: b}}) < 0
}

// TestMissingMetadata: an event whose metadata id is not in the table has
// an empty name and no metadata stats.
func TestMissingMetadata(t *testing.T) {
	b := space(xPlane(1, "p", [][]byte{xLine(1, "l", 5, xEvent(42, 0, 1, xStatStr(1, "v")))}, xStatMeta(1, "s")))
	_, got := walkLoadBytes(t, b)
	if len(got) != 1 || got[0].Name != "" || !statsEqual(got[0].Stats, []capture.Stat{{Name: "s", Str: "v"}}) {
		t.Errorf("events = %+v", got)
	}
}

func walkLoadBytes(t *testing.T, b []byte) (*capturetest.Recorder, []capturetest.Loaded) {
	t.Helper()
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return capturetest.WalkLoad(t, f)
}

func TestLoadBadRef(t *testing.T) {
	b := onePlane(xEvent(1, 0, 1))
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Planes()[0]
	for _, ref := range []capture.Ref{
		{Off: 0, Len: 1},
		{Off: p.Off, Len: -1},
		{Off: p.Off + p.Len - 1, Len: 2},
		{Off: int64(len(b)) + 10, Len: 1},
		{Off: math.MaxInt64, Len: math.MaxInt64},
		{Off: -5, Len: 1},
	} {
		var ev capture.Event
		if err := f.Load(ref, &ev); !errors.Is(err, ErrRef) {
			t.Errorf("Load(%+v) = %v, want ErrRef", ref, err)
		}
	}
}

// errVisit is what a visitor returns to stop a walk.
var errVisit = errors.New("visitor says stop")

type stopVisitor struct{ capturetest.Recorder }

func (v *stopVisitor) Event(*capture.RawEvent) error { return errVisit }

func TestWalkStops(t *testing.T) {
	events := make([][]byte, 10000)
	for i := range events {
		events[i] = xEvent(1, int64(i), 1)
	}
	b := onePlane(events...)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Walk(context.Background(), &stopVisitor{}); !errors.Is(err, errVisit) {
		t.Errorf("Walk with a failing visitor = %v, want %v", err, errVisit)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &capturetest.Recorder{}
	if err := f.Walk(ctx, r); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk(cancelled) = %v, want context.Canceled", err)
	}
	if len(r.Events) > ctxEvery {
		t.Errorf("Walk(cancelled) visited %d events, want at most %d", len(r.Events), ctxEvery)
	}
}

// TestLoadManyStats merges long stat lists (Load's map path) and compares
// with the oracle.
func TestLoadManyStats(t *testing.T) {
	var metaStats, evStats [][]byte
	var statMeta []byte
	for i := range 45 {
		statMeta = append(statMeta, xStatMeta(int64(i+1), "s"+strconv.Itoa(i%40))...)
	}
	for i := range 30 {
		metaStats = append(metaStats, xStatInt(int64(i+1), int64(i)))
	}
	for i := 15; i < 45; i++ {
		evStats = append(evStats, xStatStr(int64(i+1), "e"+strconv.Itoa(i)))
	}
	b := space(xPlane(1, "p", [][]byte{xLine(1, "l", 5, xEvent(1, 0, 1, evStats...))},
		concat(xEventMeta(1, "op", metaStats...), statMeta)))
	_, got := walkLoadBytes(t, b)
	want := oracle(t, b)
	if len(got) != 1 || capturetest.FirstDiff(want, got) >= 0 {
		t.Errorf("stats (-oracle +got):\n%s", cmp.Diff(want, got, cmpopts.EquateEmpty()))
	}
	// Event stats s15-s29 and s0-s4 replace metadata stats; s30-s39 are new.
	if n := len(got[0].Stats); n != 40 {
		t.Errorf("%d stats, want 40", n)
	}
}
