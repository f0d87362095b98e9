package sdk

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

// captureCodec is the plugin side's gRPC codec: protobuf, except that an
// AnalyzeRequest's capture records are each checked against the decoding
// limits before the request is decoded, so a chunk of, say, empty events
// (2 bytes each on the wire, ~150 once decoded) is refused for the cost of
// reading it.
type captureCodec struct {
	lim   fpcap.Limits
	proto encoding.CodecV2
}

func newCaptureCodec(lim fpcap.Limits) captureCodec {
	return captureCodec{lim: lim, proto: encoding.GetCodecV2("proto")}
}

// Marshal implements encoding.CodecV2.
func (c captureCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// Unmarshal implements encoding.CodecV2.
func (c captureCodec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*pluginv1.AnalyzeRequest)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	if err := c.check(b); err != nil {
		return err
	}
	return proto.Unmarshal(b, req)
}

// Name implements encoding.CodecV2: it replaces the protobuf codec.
func (captureCodec) Name() string { return "proto" }

// check admits each record of an AnalyzeRequest's chunk (field 2, whose
// records are field 1) on its own; the stream's totals are the builder's.
func (c captureCodec) check(b []byte) error {
	return eachField(b, 2, func(chunk []byte) error {
		i := 0
		return eachField(chunk, 1, func(rec []byte) error {
			defer func() { i++ }()
			if err := fpcap.NewBuilderWith(fpcap.Options{Limits: c.lim}).Admit(rec); err != nil {
				// gRPC answers Internal with this text (a codec cannot pick
				// the code); the host's fromStatus recognises it.
				return fmt.Errorf("%w: record %d of the chunk: %w", ErrCaptureLimit, i, err)
			}
			return nil
		})
	})
}

// eachField calls fn with the value of each length-delimited field num of
// the message b. Malformed input is left for proto.Unmarshal to report.
func eachField(b []byte, num protowire.Number, fn func([]byte) error) error {
	for len(b) > 0 {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil
		}
		b = b[k:]
		if n == num && typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil
			}
			if err := fn(v); err != nil {
				return err
			}
			b = b[k:]
			continue
		}
		k = protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return nil
		}
		b = b[k:]
	}
	return nil
}
