package xplanew

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
)

// handCapture has negative and unaligned starts, every kind of stat, an
// empty line and names that share a name but not a display name.
func handCapture() *capture.Capture {
	allKinds := []capture.Stat{
		{Name: "tf_op", Kind: capture.StatString, Str: "jit(f)/dot_general:dot_general"},
		{Name: "flops", Kind: capture.StatUint, Uint: math.MaxUint64},
		{Name: "group_id", Kind: capture.StatInt, Int: -7},
		{Name: "ratio", Kind: capture.StatDouble, Double: 0.1},
		{Name: "raw", Kind: capture.StatBytes, Bytes: []byte{0, 0xff}},
		{Name: "empty", Kind: capture.StatString},
	}
	return &capture.Capture{
		BaseNS:   1770322563152571001,
		Warnings: []string{"event cap reached"},
		Planes: []*capture.Plane{
			{
				ID: 0, Name: "/device:TPU:0",
				Stats: []capture.Stat{{Name: "clock_rate", Kind: capture.StatUint, Uint: 940000000}},
				Lines: []*capture.Line{
					{ID: 2, DisplayID: 2, Name: "XLA Modules", Events: []capture.Event{
						{Name: "jit_run(1)", Start: -1_234_567, Dur: 5_000_000},
					}},
					{ID: 3, DisplayID: 3, Name: "XLA Ops", DisplayName: "Ops", Events: []capture.Event{
						{Name: "fusion.1", DisplayName: "fusion.1 long", Start: -1_234_567, Dur: 1, Stats: allKinds},
						{Name: "fusion.1", Start: 0, Dur: 0},
						{Name: "fusion.1", DisplayName: "other", Start: 999, Dur: 3},
						{Name: "copy", Start: 5_000_000_123, Dur: 17, Stats: allKinds[:2]},
					}},
					{ID: 4, DisplayID: 9, Name: "Steps"},
				},
			},
			{
				ID: 700, Name: "/host:CPU",
				Lines: []*capture.Line{
					{ID: 102, DisplayID: 102, Name: "python3", Events: []capture.Event{
						{Name: "run_batch", Start: 7, Dur: 100},
						{Name: "process_batch_result", Start: 8, Dur: 50, Stats: []capture.Stat{{Name: "group_id", Kind: capture.StatInt, Int: 3}}},
						{Name: "", Start: 1 << 40, Dur: 1},
					}},
				},
			},
		},
	}
}

// expected lists a capture's events as capturetest.WalkLoad lists them.
func expected(c *capture.Capture) []capturetest.Loaded {
	var out []capturetest.Loaded
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			for _, e := range l.Events {
				ns, ps := capturetest.SplitPS(c.BaseNS, e.Start)
				out = append(out, capturetest.Loaded{
					Plane: p.Name, Line: l.Name, Name: e.Name, DisplayName: e.DisplayName,
					StartNS: ns, StartPS: ps, Dur: e.Dur, Stats: e.Stats,
				})
			}
		}
	}
	return out
}

func writeBytes(t *testing.T, c *capture.Capture) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestWriteRoundTrip(t *testing.T) {
	c := handCapture()
	b := writeBytes(t, c)
	f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r, got := capturetest.WalkLoad(t, f)
	want := expected(c)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(c.Warnings, f.Warnings()); diff != "" {
		t.Errorf("Warnings (-want +got):\n%s", diff)
	}
	var gotLines, wantLines []capture.LineInfo
	for i, p := range c.Planes {
		if diff := cmp.Diff(capture.PlaneInfo{ID: p.ID, Name: p.Name, Stats: p.Stats}, r.Planes[i], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("plane %d (-want +got):\n%s", i, diff)
		}
		for _, l := range p.Lines {
			wantLines = append(wantLines, capture.LineInfo{ID: l.ID, DisplayID: l.DisplayID, Name: l.Name, DisplayName: l.DisplayName})
		}
		gotLines = append(gotLines, r.Lines[i]...)
	}
	if diff := cmp.Diff(wantLines, gotLines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}

	// The file is a plain XSpace: line timestamps at the earliest event,
	// floored to the ns, offsets not negative, one metadata per name and
	// display name.
	var space xplanev1.XSpace
	if err := proto.Unmarshal(b, &space); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	ops := space.GetPlanes()[0].GetLines()[1]
	if got, want := ops.GetTimestampNs(), c.BaseNS-1235; got != want {
		t.Errorf("XLA Ops timestamp_ns = %d, want %d", got, want)
	}
	if got, want := ops.GetEvents()[0].GetOffsetPs(), int64(433); got != want {
		t.Errorf("first offset_ps = %d, want %d", got, want)
	}
	if got, want := ops.GetDurationPs(), int64(5_000_000_140+1_235_000); got != want {
		t.Errorf("XLA Ops duration_ps = %d, want %d", got, want)
	}
	if got, want := len(space.GetPlanes()[0].GetEventMetadata()), 5; got != want {
		t.Errorf("device event metadata = %d entries, want %d", got, want)
	}
	for _, p := range space.GetPlanes() {
		for _, l := range p.GetLines() {
			for _, e := range l.GetEvents() {
				if e.GetOffsetPs() < 0 {
					t.Errorf("plane %q line %q: negative offset_ps %d", p.GetName(), l.GetName(), e.GetOffsetPs())
				}
			}
		}
	}
}

// captureOf reads a whole file into a capture, every event loaded.
func captureOf(t *testing.T, f *xplane.File) *capture.Capture {
	t.Helper()
	r, evs := capturetest.WalkLoad(t, f)
	c := &capture.Capture{BaseNS: r.BaseNS}
	for i, pi := range r.Planes {
		p := &capture.Plane{ID: pi.ID, Name: pi.Name, Stats: pi.Stats}
		for _, li := range r.Lines[i] {
			p.Lines = append(p.Lines, &capture.Line{ID: li.ID, DisplayID: li.DisplayID, Name: li.Name, DisplayName: li.DisplayName})
		}
		c.Planes = append(c.Planes, p)
	}
	for i, e := range r.Events {
		l := c.Planes[e.Plane].Lines[e.Line]
		l.Events = append(l.Events, capture.Event{
			Name: evs[i].Name, DisplayName: evs[i].DisplayName, Start: e.Start, Dur: e.Dur, Stats: evs[i].Stats,
		})
	}
	return c
}

// TestWriteFixtures reads the shared files, writes them and reads them back.
func TestWriteFixtures(t *testing.T) {
	for _, fx := range captures {
		t.Run(fx.name, func(t *testing.T) {
			c := captureOf(t, openFile(t, fx.path(t)))
			b := writeBytes(t, c)
			f, err := xplane.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			_, got := capturetest.WalkLoad(t, f)
			want := expected(c)
			if len(got) != len(want) {
				t.Fatalf("read back %d events, wrote %d", len(got), len(want))
			}
			if i := capturetest.FirstDiff(want, got); i >= 0 {
				t.Fatalf("event %d (-wrote +read):\n%s", i, cmp.Diff(want[i], got[i], cmpopts.EquateEmpty()))
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	line := func(evs ...capture.Event) *capture.Capture {
		return &capture.Capture{Planes: []*capture.Plane{{Name: "p", Lines: []*capture.Line{{Name: "l", Events: evs}}}}}
	}
	tests := []struct {
		name string
		c    *capture.Capture
	}{
		{"negative duration", line(capture.Event{Name: "e", Dur: -1})},
		{"end overflows", line(capture.Event{Name: "e", Start: math.MaxInt64 - 1, Dur: 2})},
		{"timestamp overflows", &capture.Capture{BaseNS: math.MaxInt64 - 1, Planes: line(capture.Event{Start: 1 << 50}).Planes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.c); !errors.Is(err, ErrCapture) {
				t.Errorf("Write = %v, want ErrCapture", err)
			}
		})
	}
}

func TestWriteInvalidUTF8(t *testing.T) {
	c := &capture.Capture{Planes: []*capture.Plane{{Name: "p\xff", Lines: []*capture.Line{{Name: "l", Events: []capture.Event{
		{Name: "e\xfe", Dur: 1, Stats: []capture.Stat{{Name: "s", Str: "v\xff"}}},
	}}}}}}
	b := writeBytes(t, c)
	var space xplanev1.XSpace
	if err := proto.Unmarshal(b, &space); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	r, got := walkLoadBytes(t, b)
	if r.Planes[0].Name != "p\uFFFD" || got[0].Name != "e\uFFFD" || got[0].Stats[0].Str != "v\uFFFD" {
		t.Errorf("plane %q, event %+v: want U+FFFD for bad bytes", r.Planes[0].Name, got[0])
	}
}

// seedPath is the SDK reader's FuzzRead seed that Write wrote.
var seedPath = filepath.Join("..", "..", "sdk", "capture", "xplane", "testdata", "fuzz", "FuzzRead", "written")

// TestFuzzSeed rewrites, with -update, the SDK reader's FuzzRead seed
// "written" from handCapture; without it, it checks that the seed reads as
// handCapture.
func TestFuzzSeed(t *testing.T) {
	b := writeBytes(t, handCapture())
	if *update {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(seedPath, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	_, quoted, ok := strings.Cut(strings.TrimSpace(string(raw)), "[]byte(")
	if !ok || !strings.HasSuffix(quoted, ")") {
		t.Fatalf("%s: not a []byte fuzz seed", seedPath)
	}
	seed, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
	if err != nil {
		t.Fatalf("%s: %v", seedPath, err)
	}
	_, got := walkLoadBytes(t, []byte(seed))
	if diff := cmp.Diff(expected(handCapture()), got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s reads back (-handCapture +seed; go test -update rewrites it):\n%s", seedPath, diff)
	}
}
