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
		err = c.sendCapture(stream, cp)
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
func (c *Client) sendCapture(stream grpc.ClientStreamingClient[pluginv1.AnalyzeRequest, pluginv1.AnalyzeResponse], cp *capture.Capture) error {
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
