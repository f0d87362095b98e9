package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

// Client is a host's handle on one analyzer plugin, as go-plugin's Dispense
// returns it. Call Info, then Analyze, from one goroutine.
type Client struct {
	rpc        pluginv1.AnalyzerServiceClient
	chunkBytes int
	// info is what Info returned, to check and fill the section's name.
	info *Info
}

// Info asks the plugin to describe itself and checks the answer.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.rpc.Info(ctx, &pluginv1.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, "info", err)
	}
	info, err := infoFromProto(resp)
	if err != nil {
		return Info{}, err
	}
	c.info = &info
	return info, nil
}

// Analyze sends the options and the capture, in chunks of at most the
// configured size, and returns the plugin's section, checked. gRPC's flow
// control paces the sending to the plugin's reading, so at most a few chunks
// are in memory at a time. After Info, an empty section name is filled with
// the analyzer's, and a different one is an error.
func (c *Client) Analyze(ctx context.Context, cp *capture.Capture, opts map[string]string) (*Section, error) {
	return c.analyze(ctx, opts, func(stream analyzeStream) error { return c.sendCapture(stream, cp) })
}

// AnalyzeFpcap is Analyze for a capture held as the bytes of an .fpcap file,
// as a collector stores it: its records travel to the plugin as they are,
// each framed straight into a chunk's wire form, never decoded or encoded
// again (Analyze encodes the records of a decoded capture). The plugin
// receives the same records Analyze would send for the capture data
// decodes to, perhaps in other batches, and checks them as it checks
// those; here only the framing is read (fpcap.EachRecord), so data that is
// not a valid capture is the plugin's to refuse. Records after the footer
// are not sent.
func (c *Client) AnalyzeFpcap(ctx context.Context, data []byte, opts map[string]string) (*Section, error) {
	return c.analyze(ctx, opts, func(stream analyzeStream) error { return c.sendFpcap(stream, data) })
}

// analyzeStream is the host's side of an Analyze call.
type analyzeStream = grpc.ClientStreamingClient[pluginv1.AnalyzeRequest, pluginv1.AnalyzeResponse]

// analyze runs one Analyze call: the options, then what send sends.
func (c *Client) analyze(ctx context.Context, opts map[string]string, send func(analyzeStream) error) (*Section, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Analyze(ctx,
		grpc.MaxCallSendMsgSize(MaxMessageBytes),
		grpc.MaxCallRecvMsgSize(MaxSectionBytes))
	if err != nil {
		return nil, fromStatus(ctx, "analyze", err)
	}
	err = stream.Send(&pluginv1.AnalyzeRequest{Kind: &pluginv1.AnalyzeRequest_Options{
		Options: &pluginv1.AnalyzeOptions{Options: opts},
	}})
	if err == nil {
		err = send(stream)
	}
	// io.EOF from Send means the plugin ended the call; CloseAndRecv says why.
	if err != nil && !errors.Is(err, io.EOF) {
		if _, ok := status.FromError(err); ok {
			return nil, fromStatus(ctx, "analyze", err)
		}
		return nil, err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, fromStatus(ctx, "analyze", err)
	}
	sec, err := sectionFromProto(resp.GetSection())
	if err != nil {
		return nil, err
	}
	if c.info != nil {
		switch sec.Name {
		case "":
			sec.Name = c.info.Name
		case c.info.Name:
		default:
			return nil, fmt.Errorf("%w: section named %q, analyzer %q", ErrInvalidSection, sec.Name, c.info.Name)
		}
		if sec.Title == "" {
			sec.Title = c.info.Title
		}
	}
	return sec, nil
}

// aloneBytes is the size from which a record is sent in a chunk of its own
// rather than copied into the pending one.
const aloneBytes = 64 << 10

// sendCapture streams cp's records, packed into chunks of at most
// c.chunkBytes. Small records are copied into the pending chunk, since
// fpcap.Records may reuse a record once emit returns; a record of aloneBytes
// or more (or larger than a chunk) is sent at once in a chunk of its own,
// which spares copying the big event batches.
func (c *Client) sendCapture(stream analyzeStream, cp *capture.Capture) error {
	var pending []*capturev1.Record
	size := 0
	send := func(recs []*capturev1.Record) error {
		return stream.Send(&pluginv1.AnalyzeRequest{Kind: &pluginv1.AnalyzeRequest_Chunk{
			Chunk: &pluginv1.CaptureChunk{Records: recs},
		}})
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := send(pending)
		pending, size = nil, 0
		return err
	}
	index := 0
	err := fpcap.Records(cp, func(r *capturev1.Record) error {
		defer func() { index++ }()
		n := proto.Size(r) + 8 // the field's tag and length
		if n > MaxMessageBytes-1024 {
			return fmt.Errorf("%w: record %d is %d bytes, the limit is %d", ErrRecordTooLarge, index, n, MaxMessageBytes-1024)
		}
		if size+n > c.chunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		if n >= min(c.chunkBytes, aloneBytes) {
			if err := flush(); err != nil {
				return err
			}
			return send([]*capturev1.Record{r})
		}
		pending = append(pending, proto.CloneOf(r))
		size += n
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// sendFpcap streams the records of the .fpcap file data, packed into chunks
// of at most c.chunkBytes (a larger record alone), as sendCapture does. On
// the wire a CaptureChunk is its records, each as field 1 (length
// delimited), and the records of an .fpcap are length delimited already:
// each chunk's request is written out in wire form and sent as the unknown
// fields of an empty AnalyzeRequest, which protobuf marshals as they are,
// and the plugin decodes as a chunk.
func (c *Client) sendFpcap(stream analyzeStream, data []byte) error {
	var pending [][]byte // parts of data
	size := 0            // the chunk's encoded size
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		wire := make([]byte, 0, 1+protowire.SizeVarint(uint64(size))+size)
		wire = protowire.AppendTag(wire, 2, protowire.BytesType) // AnalyzeRequest.chunk
		wire = protowire.AppendVarint(wire, uint64(size))
		for _, r := range pending {
			wire = protowire.AppendTag(wire, 1, protowire.BytesType) // CaptureChunk.records
			wire = protowire.AppendBytes(wire, r)
		}
		pending, size = nil, 0
		req := &pluginv1.AnalyzeRequest{}
		req.ProtoReflect().SetUnknown(wire)
		return stream.Send(req)
	}
	index := 0
	err := fpcap.EachRecord(data, func(r []byte) error {
		defer func() { index++ }()
		n := 1 + protowire.SizeBytes(len(r))
		if n+8 > MaxMessageBytes-1024 {
			return fmt.Errorf("%w: record %d is %d bytes, the limit is %d", ErrRecordTooLarge, index, n+8, MaxMessageBytes-1024)
		}
		if size+n > c.chunkBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		pending = append(pending, r)
		size += n
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// fromStatus turns a gRPC error from the plugin into the SDK's errors.
func fromStatus(ctx context.Context, call string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", call, ctx.Err())
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", call, err)
	}
	msg := st.Message()
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "…"
	}
	var sentinel error
	if _, why, ok := strings.Cut(msg, ErrCaptureLimit.Error()); ok {
		// Refused by the plugin's builder (ResourceExhausted) or, before
		// decoding, by its codec (which gRPC sends as Internal).
		return fmt.Errorf("%s: %w%s", call, ErrCaptureLimit, why)
	}
	switch st.Code() {
	case codes.InvalidArgument:
		sentinel = ErrProtocol
	case codes.ResourceExhausted:
		sentinel = ErrCaptureLimit
	case codes.FailedPrecondition:
		sentinel = ErrInvalidSection
	case codes.Unknown:
		sentinel = ErrAnalyzer
	case codes.Unavailable, codes.Canceled:
		return fmt.Errorf("%s: %w: %s", call, ErrUnavailable, msg)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w: %s", call, context.DeadlineExceeded, msg)
	case codes.Unimplemented:
		return fmt.Errorf("%s: %w: %s (is it a fleetprof analyzer?)", call, ErrProtocol, msg)
	default:
		return fmt.Errorf("%s: plugin error (%s): %s", call, st.Code(), msg)
	}
	return fmt.Errorf("%s: %w: %s", call, sentinel, strings.TrimPrefix(msg, sentinel.Error()+": "))
}
