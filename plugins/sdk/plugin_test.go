package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	"github.com/fleetprof/fleetprof/plugins/sdk/sdktest"
)

// spy records the input it was given and returns a fixed section.
type spy struct {
	mu   sync.Mutex
	got  *sdk.Input
	sec  *sdk.Section
	err  error
	wait bool // block until ctx is done
}

func (s *spy) Info() sdk.Info {
	return sdk.Info{Name: "spy", Title: "Spy", Version: "0.1.0", Order: 5}
}

func (s *spy) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	s.mu.Lock()
	s.got = in
	s.mu.Unlock()
	if s.wait {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.sec, s.err
}

// bigCapture is a hand-built capture with every kind of stat, dropped
// summaries, context and enough events for several 1 MiB batches.
func bigCapture(events int) *capture.Capture {
	c := &capture.Capture{
		BaseNS: 1_770_322_563_052_571_500, Span: capture.Interval{Start: -5, End: 80 * capture.Millisecond},
		Gap: capture.DefaultGap, Pad: capture.DefaultPad,
		Windows:     []capture.Interval{{Start: 0, End: capture.Millisecond}, {Start: 5 * capture.Millisecond, End: 6 * capture.Millisecond}},
		EventsTotal: int64(events) + 100,
		Source:      capture.Source{Format: "xplane", Name: "x.xplane.pb"},
		Warnings:    []string{"w1"},
		Context:     map[string]string{"host": "h", "model": "m"},
	}
	dev := &capture.Plane{ID: 3, Name: "/device:TPU:0", Busy: 123, OpEvents: int64(events), EventsTotal: int64(events),
		Stats: []capture.Stat{{Name: "peak", Kind: capture.StatDouble, Double: 1.5}}}
	ops := &capture.Line{ID: 1, DisplayID: 1, Name: "XLA Ops", DisplayName: "ops"}
	for i := range events {
		ops.Events = append(ops.Events, capture.Event{
			Name: fmt.Sprintf("fusion.%d", i%97), Start: int64(i) * 1000, Dur: 700, Self: 700,
			Stats: []capture.Stat{
				{Name: "tf_op", Kind: capture.StatString, Str: fmt.Sprintf("jit(f)/op%d:dot_general", i%13)},
				{Name: "i", Kind: capture.StatInt, Int: -int64(i)},
				{Name: "u", Kind: capture.StatUint, Uint: uint64(i)},
				{Name: "b", Kind: capture.StatBytes, Bytes: []byte{1, 2, byte(i)}},
			},
		})
	}
	dev.Lines = []*capture.Line{ops, {ID: 2, Name: "XLA Modules"}}
	host := &capture.Plane{ID: 9, Name: capture.HostPlaneName, EventsTotal: 100,
		Lines: []*capture.Line{{ID: 100, DisplayID: 4242, Name: "python", Events: []capture.Event{
			{Name: "step", Start: 0, Dur: 900, Self: 400}, {Name: "poll", Start: 10, Dur: 500, Self: 500},
		}}}}
	c.Planes = []*capture.Plane{dev, host}
	c.Dropped = []capture.Dropped{{Plane: 1, Line: 0, Name: "poll", Count: 98, Total: 9800, Self: 9000}}
	return c
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events int
		chunk  int
	}{
		{"tiny chunks", 50, 1},
		{"default chunks", 20_000, 0}, // about 2 MiB of events
		{"no events", 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &spy{sec: &sdk.Section{Rows: []sdk.Row{{"n": 1}}}}
			cl := sdktest.Start(t, a, tt.chunk)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			info, err := cl.Info(ctx)
			if err != nil || info.Name != "spy" || info.Order != 5 {
				t.Fatalf("Info = %+v, %v", info, err)
			}
			want := bigCapture(tt.events)
			sec, err := cl.Analyze(ctx, want, map[string]string{"rules": "x: y"})
			if err != nil {
				t.Fatal(err)
			}
			if sec.Name != "spy" || sec.Title != "Spy" || sec.Rows[0]["n"] != int64(1) {
				t.Errorf("section = %+v", sec)
			}
			// go-cmp is slow on big captures: diff only when they differ.
			if !reflect.DeepEqual(want, a.got.Capture) {
				if diff := cmp.Diff(want, a.got.Capture, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("capture the plugin rebuilt (-sent +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(map[string]string{"rules": "x: y"}, a.got.Options); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			if a.got.Log == nil {
				t.Error("Input.Log is nil")
			}
		})
	}
}

func TestAnalyzeErrors(t *testing.T) {
	c := bigCapture(3)
	tests := []struct {
		name    string
		a       *spy
		want    error
		wantMsg string
	}{
		{"analyzer error", &spy{err: errors.New("no device plane")}, sdk.ErrAnalyzer, "analyze: sdk: analyzer failed: no device plane"},
		{"nil section", &spy{}, sdk.ErrInvalidSection, "analyze: sdk: invalid section: no section (nil)"},
		{"wrong name", &spy{sec: &sdk.Section{Name: "other"}}, sdk.ErrInvalidSection, `sdk: invalid section: section named "other", analyzer "spy"`},
		{"bad cell", &spy{sec: &sdk.Section{Rows: []sdk.Row{{"a": struct{}{}}}}}, sdk.ErrInvalidSection, `analyze: sdk: invalid section: row 0, key "a": value of type struct {}, want string, float64 or int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := sdktest.Start(t, tt.a, 0)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := cl.Info(ctx); err != nil {
				t.Fatal(err)
			}
			_, err := cl.Analyze(ctx, c, nil)
			if !errors.Is(err, tt.want) || err.Error() != tt.wantMsg {
				t.Errorf("Analyze() = %v, want %q (%v)", err, tt.wantMsg, tt.want)
			}
		})
	}
}

func TestAnalyzeDeadline(t *testing.T) {
	a := &spy{wait: true}
	cl := sdktest.Start(t, a, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cl.Analyze(ctx, bigCapture(3), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Analyze() = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Analyze returned after %s", d)
	}
}

func TestInputIterators(t *testing.T) {
	c := bigCapture(10)
	in := &sdk.Input{Capture: c}
	count := func(seq func(func(sdk.EventRef) bool)) int {
		n := 0
		for range seq {
			n++
		}
		return n
	}
	if got := count(in.Events()); got != 12 {
		t.Errorf("Events: %d, want 12", got)
	}
	if got := count(in.HostEvents()); got != 2 {
		t.Errorf("HostEvents: %d, want 2", got)
	}
	// Ops start every 1000 ps and last 700: [2500, 4000] meets ops 2, 3, 4;
	// the host's step [0, 900] and poll [10, 510] do not.
	var names []string
	for e := range in.EventsIn(capture.Interval{Start: 2500, End: 4000}) {
		names = append(names, e.Event.Name)
	}
	if diff := cmp.Diff([]string{"fusion.2", "fusion.3", "fusion.4"}, names); diff != "" {
		t.Errorf("EventsIn (-want +got):\n%s", diff)
	}
	var ops []string
	var total int64
	for op := range in.DeviceOps() {
		ops = append(ops, op.Operation+":"+op.Type)
		total += op.Event.Dur
	}
	if len(ops) != 10 || ops[1] != "jit(f)/op1:dot_general" || total != 7000 {
		t.Errorf("DeviceOps = %v (total %d)", ops, total)
	}
	for d := range in.Dropped() {
		if d.Plane.Name != capture.HostPlaneName || d.Line.Name != "python" || d.Dropped.Count != 98 {
			t.Errorf("Dropped = %+v", d)
		}
	}
	// Stopping early works.
	for range in.Events() {
		break
	}
}

// counter counts kept events and device ops.
type counter struct{}

func (counter) Info() sdk.Info { return sdk.Info{Name: "counter"} }

func (counter) Analyze(_ context.Context, in *sdk.Input) (*sdk.Section, error) {
	var kept, ops, host int64
	for range in.Events() {
		kept++
	}
	for range in.DeviceOps() {
		ops++
	}
	for range in.HostEvents() {
		host++
	}
	return &sdk.Section{Summary: []sdk.Metric{
		{Key: "events_kept", Value: float64(kept)},
		{Key: "device_op_events", Value: float64(ops)},
		{Key: "events_total", Value: float64(in.Capture.EventsTotal)},
	}}, nil
}

func TestRunFixture(t *testing.T) {
	td := fixtures.Dir(t)
	for _, f := range []string{"tiny/tiny-host.xplane.pb", "tiny/tiny-host.trace.json.gz"} {
		t.Run(f, func(t *testing.T) {
			sec := sdktest.Run(t, counter{}, filepath.Join(td, f), nil)
			// truth.json: events_total 1472, events_kept 233, device_op_events 108.
			want := []sdk.Metric{
				{Key: "events_kept", Value: 233}, {Key: "device_op_events", Value: 108}, {Key: "events_total", Value: 1472},
			}
			if diff := cmp.Diff(want, sec.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkAnalyze measures the chunked feed over the plugin path: 30,000
// op events with four stats each (about 3 MiB of records).
func BenchmarkAnalyze(b *testing.B) {
	c := bigCapture(30_000)
	cl := sdktest.Start(b, &spy{sec: &sdk.Section{}}, 0)
	ctx := context.Background()
	for b.Loop() {
		if _, err := cl.Analyze(ctx, c, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnalyzeFpcap sends a capture as the bytes of its .fpcap file: the
// analyzer gets what Analyze would give it, whatever the chunk size, and
// bytes after the footer are not sent.
func TestAnalyzeFpcap(t *testing.T) {
	c := bigCapture(3000)
	var buf bytes.Buffer
	if err := fpcap.Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	data := append(bytes.Clone(buf.Bytes()), "after the footer"...)
	for _, chunk := range []int{0, 1000, 64 << 10} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), sdktest.Timeout)
			defer cancel()
			s := &spy{sec: &sdk.Section{Rows: []sdk.Row{}}}
			cl := sdktest.Start(t, s, chunk)
			if _, err := cl.AnalyzeFpcap(ctx, data, map[string]string{"k": "v"}); err != nil {
				t.Fatalf("AnalyzeFpcap: %v", err)
			}
			var got bytes.Buffer
			if err := fpcap.Write(&got, s.got.Capture); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), buf.Bytes()) {
				t.Errorf("analyzer's capture, written, differs from the file (%d bytes, want %d)", got.Len(), buf.Len())
			}
			if s.got.Options["k"] != "v" {
				t.Errorf("options = %v", s.got.Options)
			}
			if _, err := cl.AnalyzeFpcap(ctx, data[:len(data)/2], nil); !errors.Is(err, fpcap.ErrTruncated) {
				t.Errorf("AnalyzeFpcap(half a file) = %v, want %v", err, fpcap.ErrTruncated)
			}
		})
	}
}
