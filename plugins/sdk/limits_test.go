package sdk

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// rawCodec sends pre-encoded messages ([]byte) as they are, so a test can
// send what no host would build.
type rawCodec struct{ proto encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.([]byte); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.proto.Marshal(v)
}
func (c rawCodec) Unmarshal(d mem.BufferSlice, v any) error { return c.proto.Unmarshal(d, v) }
func (rawCodec) Name() string                               { return "proto" }

// emptyEventsChunk is an AnalyzeRequest chunk holding one record of n empty
// events: 2 bytes each.
func emptyEventsChunk(n int) []byte {
	batch := bytes.Repeat([]byte{0x1a, 0x00}, n)                                          // EventBatch.events
	rec := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), batch) // Record.events
	chunk := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rec) // CaptureChunk.records
	return protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), chunk) // AnalyzeRequest.chunk
}

// TestServerRefusesCostlyChunks sends a plugin 8 MiB of empty events in one
// chunk (issue 13 finding 2: each plugin used ~1.9 GB on such a capture):
// the chunk is refused before it is decoded, with ResourceExhausted naming
// the bound.
func TestServerRefusesCostlyChunks(t *testing.T) {
	rpc := serveBufconn(t, echo{})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := rpc.Analyze(ctx, grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2("proto")}))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.SendMsg(opts())
	_ = stream.SendMsg(emptyEventsChunk(4 << 20))
	_, err = stream.CloseAndRecv()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	err = fromStatus(ctx, "analyze", err)
	if !errors.Is(err, ErrCaptureLimit) || !strings.Contains(err.Error(), "expansion=") {
		t.Errorf("Analyze(8 MiB of empty events) = %v, want ErrCaptureLimit naming expansion", err)
	}
	// Client and server share this process: sending and receiving the 8 MiB
	// take ~3 copies; decoding would have taken ~650 MiB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 96<<20 {
		t.Errorf("refusing the chunk allocated %d MiB, want under 96", n>>20)
	}
}

// TestServerLimits: records within the limits one by one (the codec lets
// each through) but past them together are refused by the builder.
func TestServerLimits(t *testing.T) {
	rpc := serveBufconnWith(t, &Plugin{Analyzer: echo{}, Limits: fpcap.Limits{MaxEvents: 10}})
	capt := func(perLine int) *capture.Capture {
		p := &capture.Plane{Name: "/device:TPU:0", Lines: []*capture.Line{{Name: "XLA Ops"}, {Name: "Steps"}}}
		for _, l := range p.Lines {
			for i := range perLine {
				l.Events = append(l.Events, capture.Event{Name: "op", Start: int64(i), Dur: 1})
			}
		}
		return &capture.Capture{Planes: []*capture.Plane{p}}
	}
	cl := &Client{rpc: rpc, chunkBytes: 64} // one record per message
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cl.Analyze(ctx, capt(6), nil)
	if !errors.Is(err, ErrCaptureLimit) || !strings.Contains(err.Error(), "events=10") {
		t.Errorf("Analyze(2 lines of 6 events, events=10) = %v, want ErrCaptureLimit naming events=10", err)
	}
	if _, err := cl.Analyze(ctx, capt(5), nil); err != nil {
		t.Errorf("Analyze(2 lines of 5 events, events=10) = %v", err)
	}
	// One record past the limits is refused before it is decoded.
	_, err = cl.Analyze(ctx, capt(11), nil)
	if !errors.Is(err, ErrCaptureLimit) || !strings.Contains(err.Error(), "events=10") {
		t.Errorf("Analyze(a line of 11 events, events=10) = %v, want ErrCaptureLimit naming events=10", err)
	}
}
