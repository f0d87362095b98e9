package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

// server is the plugin side of AnalyzerService: it rebuilds the capture from
// the streamed records and runs the analyzer on it.
type server struct {
	pluginv1.UnimplementedAnalyzerServiceServer
	a   Analyzer
	log *slog.Logger
	lim fpcap.Limits
}

// Info implements pluginv1.AnalyzerServiceServer.
func (s *server) Info(context.Context, *pluginv1.InfoRequest) (*pluginv1.InfoResponse, error) {
	return infoToProto(s.a.Info()), nil
}

// Analyze implements pluginv1.AnalyzerServiceServer.
func (s *server) Analyze(stream grpc.ClientStreamingServer[pluginv1.AnalyzeRequest, pluginv1.AnalyzeResponse]) error {
	sec, err := s.analyze(stream)
	if err != nil {
		return s.toStatus(stream.Context(), err)
	}
	return stream.SendAndClose(&pluginv1.AnalyzeResponse{Section: sec})
}

func (s *server) analyze(stream grpc.ClientStreamingServer[pluginv1.AnalyzeRequest, pluginv1.AnalyzeResponse]) (*pluginv1.Section, error) {
	ctx := stream.Context()
	req, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the stream ended before the options", ErrProtocol)
	}
	if err != nil {
		return nil, err
	}
	opts := req.GetOptions()
	if opts == nil {
		return nil, fmt.Errorf("%w: the first message is not the options", ErrProtocol)
	}
	b := fpcap.NewBuilderWith(fpcap.Options{Limits: s.lim})
	records := 0
	for msg := 1; ; msg++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		chunk := req.GetChunk()
		if chunk == nil {
			return nil, fmt.Errorf("%w: message %d is not a capture chunk", ErrProtocol, msg)
		}
		for _, r := range chunk.GetRecords() {
			if err := b.Add(r); errors.Is(err, fpcap.ErrLimit) {
				return nil, fmt.Errorf("%w: capture record %d: %w", ErrCaptureLimit, records, err)
			} else if err != nil {
				return nil, fmt.Errorf("%w: capture record %d: %w", ErrProtocol, records, err)
			}
			records++
		}
	}
	c, err := b.Capture()
	if err != nil {
		return nil, fmt.Errorf("%w: after %d records: %w", ErrProtocol, records, err)
	}
	in := &Input{Capture: c, Options: opts.GetOptions(), Log: s.log}
	if in.Options == nil {
		in.Options = map[string]string{}
	}
	sec, err := s.call(ctx, in)
	if err != nil {
		return nil, err
	}
	return sectionToProto(sec)
}

// call runs the analyzer, turning a panic into an error.
func (s *server) call(ctx context.Context, in *Input) (sec *Section, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("analyzer panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sec, err = nil, fmt.Errorf("%w: panic: %v", ErrAnalyzer, r)
		}
	}()
	sec, err = s.a.Analyze(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrAnalyzer, err)
	}
	return sec, nil
}

// toStatus is the service's one error boundary. Protocol, analyzer and
// section errors keep their text (the host puts it in the report); anything
// else is logged here and sent as a generic internal error.
func (s *server) toStatus(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, ErrCaptureLimit):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, ErrProtocol):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrInvalidSection):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrAnalyzer):
		return status.Error(codes.Unknown, err.Error())
	}
	s.log.Error("analyze", "error", err)
	return status.Error(codes.Internal, "sdk: internal error in the plugin (see its log)")
}
