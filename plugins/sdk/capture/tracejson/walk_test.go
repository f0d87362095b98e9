package tracejson

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestWalkFixtures(t *testing.T) {
	td := testdataDir(t)
	tests := []struct {
		dir, file string
		loadAll   bool
	}{
		{"tiny", "tiny-host.trace.json", true},
		{"tiny", "tiny-host.trace.json.gz", true},
		{"seed-replica", "t1v-n-3d21a6bb-w-0.trace.json.gz", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := filepath.Join(td, tt.dir)
			data := readFixture(t, filepath.Join(dir, tt.file))
			want := readTruth(t, dir)
			var c collector
			st, err := Walk(context.Background(), bytes.NewReader(data), &c, WalkOptions{})
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if got := int64(len(c.events)); got != want.EventsTotal || st.X != want.EventsTotal {
				t.Errorf("events = %d (Stats.X %d), want %d", got, st.X, want.EventsTotal)
			}
			if !st.Complete || st.Bytes != int64(len(data)) || st.LateMetadata != 0 || st.Skipped != 0 {
				t.Errorf("Stats = %+v, want complete, %d bytes, no late metadata, nothing skipped", st, len(data))
			}
			if st.Events != st.Phases["X"]+st.Phases["M"]+1 {
				t.Errorf("Stats.Events = %d, phases %v: want X+M+1 (the trailing {})", st.Events, st.Phases)
			}
			if c.baseCalls != 1 {
				t.Errorf("Base called %d times, want 1", c.baseCalls)
			}
			var ops int64
			span := capture.Interval{Start: c.events[0].start, End: c.events[0].start}
			for _, e := range c.events {
				p := c.planes[e.plane]
				if capture.IsDevicePlane(p.info.Name) && capture.IsOpLine(p.lines[e.line].Name) {
					ops++
				}
				span.Start = min(span.Start, e.start)
				span.End = max(span.End, e.start+e.dur)
			}
			if ops != want.DeviceOpEvents {
				t.Errorf("device op events = %d, want %d", ops, want.DeviceOpEvents)
			}
			us, ps, what := parseTime([]byte(want.SpanUS.String()))
			if what != "" {
				t.Fatalf("truth span_us %s: %s", want.SpanUS, what)
			}
			if got, wantPS := span.Len(), us*psPerUS+ps; got != wantPS {
				t.Errorf("span = %d ps, want %d ps (span_us %s)", got, wantPS, want.SpanUS)
			}
			// Every ref holds its event: load all (tiny) or every 97th.
			ld := NewLoader(bytes.NewReader(data))
			for i, e := range c.events {
				if !tt.loadAll && i%97 != 0 {
					continue
				}
				var ev capture.Event
				if err := ld.Load(e.ref, &ev); err != nil {
					t.Fatalf("Load(%+v): %v", e.ref, err)
				}
				if ev.Name != e.name {
					t.Fatalf("Load(%+v).Name = %q, want %q", e.ref, ev.Name, e.name)
				}
				if lt, ok := ev.Stat("long_name"); ok && ev.DisplayName != lt.Str {
					t.Fatalf("Load(%+v).DisplayName = %q, want long_name %q", e.ref, ev.DisplayName, lt.Str)
				}
			}
		})
	}
}

// TestWalkSplitReads checks that the result does not depend on how the
// stream is cut into reads and blocks.
func TestWalkSplitReads(t *testing.T) {
	data := readFixture(t, filepath.Join(testdataDir(t), "tiny", "tiny-host.trace.json"))
	var want collector
	if _, err := Walk(context.Background(), bytes.NewReader(data), &want, WalkOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 7, 64, 333, 4096} {
		for _, oneByte := range []bool{false, true} {
			var got collector
			var r = bytes.NewReader(data)
			var rd interface{ Read([]byte) (int, error) } = r
			if oneByte {
				rd = iotest.OneByteReader(r)
			}
			st, err := Walk(context.Background(), rd, &got, WalkOptions{BufferSize: size})
			if err != nil {
				t.Fatalf("Walk(BufferSize %d, one byte %v): %v", size, oneByte, err)
			}
			if st.Bytes != int64(len(data)) || len(got.events) != len(want.events) {
				t.Fatalf("Walk(BufferSize %d, one byte %v): %d events, %d bytes; want %d, %d",
					size, oneByte, len(got.events), st.Bytes, len(want.events), len(data))
			}
			for i := range got.events {
				if got.events[i] != want.events[i] {
					t.Fatalf("Walk(BufferSize %d, one byte %v): event %d = %+v, want %+v",
						size, oneByte, i, got.events[i], want.events[i])
				}
			}
		}
	}
}

func TestWalkCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Walk(ctx, bytes.NewReader([]byte(`{"traceEvents":[]}`)), &collector{}, WalkOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk(cancelled) = %v, want context.Canceled", err)
	}
}
