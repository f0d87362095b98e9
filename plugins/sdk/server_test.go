package sdk

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

type echo struct{}

func (echo) Info() Info { return Info{Name: "echo"} }

func (echo) Analyze(context.Context, *Input) (*Section, error) { return &Section{}, nil }

// serveBufconn serves a over an in-memory connection and returns a raw
// client for it.
func serveBufconn(t *testing.T, a Analyzer) pluginv1.AnalyzerServiceClient {
	t.Helper()
	return serveBufconnWith(t, &Plugin{Analyzer: a})
}

// serveBufconnWith serves p over an in-memory connection and returns a raw
// client for it.
func serveBufconnWith(t *testing.T, p *Plugin) pluginv1.AnalyzerServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpcServer(p.Limits)(nil)
	if err := p.GRPCServer(nil, s); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
	})
	return pluginv1.NewAnalyzerServiceClient(cc)
}

func opts() *pluginv1.AnalyzeRequest {
	return &pluginv1.AnalyzeRequest{Kind: &pluginv1.AnalyzeRequest_Options{Options: &pluginv1.AnalyzeOptions{}}}
}

func chunk(recs ...*capturev1.Record) *pluginv1.AnalyzeRequest {
	return &pluginv1.AnalyzeRequest{Kind: &pluginv1.AnalyzeRequest_Chunk{Chunk: &pluginv1.CaptureChunk{Records: recs}}}
}

func header() *capturev1.Record {
	return &capturev1.Record{Kind: &capturev1.Record_Header{Header: &capturev1.Header{FormatVersion: 1}}}
}

func footer(records int64) *capturev1.Record {
	return &capturev1.Record{Kind: &capturev1.Record_Footer{Footer: &capturev1.Footer{Records: records}}}
}

func TestServerProtocol(t *testing.T) {
	tests := []struct {
		name string
		msgs []*pluginv1.AnalyzeRequest
		want string // in the error; "" means success
	}{
		{"ok", []*pluginv1.AnalyzeRequest{opts(), chunk(header()), chunk(footer(1))}, ""},
		{"ok in one chunk", []*pluginv1.AnalyzeRequest{opts(), chunk(header(), footer(1))}, ""},
		{"nothing", nil, "the stream ended before the options"},
		{"chunk first", []*pluginv1.AnalyzeRequest{chunk(header())}, "the first message is not the options"},
		{"options twice", []*pluginv1.AnalyzeRequest{opts(), opts()}, "message 1 is not a capture chunk"},
		{"empty message", []*pluginv1.AnalyzeRequest{opts(), {}}, "message 1 is not a capture chunk"},
		{"no header", []*pluginv1.AnalyzeRequest{opts(), chunk(footer(0))}, "capture record 0: fpcap: malformed capture: first record is not a header"},
		{"no footer", []*pluginv1.AnalyzeRequest{opts(), chunk(header())}, "after 1 records: fpcap: truncated capture"},
		{"bad plane", []*pluginv1.AnalyzeRequest{opts(), chunk(header(), &capturev1.Record{
			Kind: &capturev1.Record_Events{Events: &capturev1.EventBatch{Plane: 4}}})}, "capture record 1: fpcap: malformed capture: plane index 4 not declared"},
	}
	rpc := serveBufconn(t, echo{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stream, err := rpc.Analyze(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				if err := stream.Send(m); err != nil {
					break // the server gave up; CloseAndRecv says why
				}
			}
			_, err = stream.CloseAndRecv()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Analyze: %v", err)
				}
				return
			}
			err = fromStatus(ctx, "analyze", err)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Analyze: %v, want ErrProtocol with %q", err, tt.want)
			}
		})
	}
}

func TestClientRecordTooLarge(t *testing.T) {
	c := &capture.Capture{Planes: []*capture.Plane{{Name: "p", Stats: []capture.Stat{
		{Name: "huge", Kind: capture.StatBytes, Bytes: make([]byte, MaxMessageBytes)},
	}}}}
	cl := &Client{rpc: serveBufconn(t, echo{}), chunkBytes: DefaultChunkBytes}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cl.Analyze(ctx, c, nil)
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("Analyze(huge plane) = %v, want ErrRecordTooLarge", err)
	}
}

func TestServerUnimplemented(t *testing.T) {
	// A gRPC server without the service, as a plugin of another kind.
	lis := bufconn.Listen(1 << 16)
	s := grpc.NewServer()
	go func() { _ = s.Serve(lis) }()
	defer s.Stop()
	cc, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cl := &Client{rpc: pluginv1.NewAnalyzerServiceClient(cc), chunkBytes: DefaultChunkBytes}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Info(ctx); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "is it a fleetprof analyzer?") {
		t.Errorf("Info() = %v, want ErrProtocol", err)
	}
}
