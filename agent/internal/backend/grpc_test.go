package backend

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"
)

// profiler is a profiler service that notes when each Profile request
// arrived and answers after the duration, with an empty trace.
type profiler struct {
	tensorflowpb.UnimplementedProfilerServiceServer
	arrived atomic.Int64 // unix ns of the last Profile request
}

func (p *profiler) Profile(ctx context.Context, req *tensorflowpb.ProfileRequest) (*tensorflowpb.ProfileResponse, error) {
	p.arrived.Store(time.Now().UnixNano())
	select {
	case <-time.After(time.Duration(req.GetOpts().GetDurationMs()) * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &tensorflowpb.ProfileResponse{EmptyTrace: true}, nil
}

// TestGRPCWorkloadAfterProfile: the workload starts only once the service
// has the Profile request (it starts tracing then, and does not say so):
// a workload sent while the connection was still being set up ran before
// the session began and left an empty trace (TestStandaloneGRPC under load).
func TestGRPCWorkloadAfterProfile(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	p := &profiler{}
	tensorflowpb.RegisterProfilerServiceServer(srv, p)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	for i := range 3 {
		g, err := NewGRPC(l.Addr().String(), GRPCOptions{HostName: "h"})
		if err != nil {
			t.Fatal(err)
		}
		var during, arrived int64
		req := Request{ID: "c", Dir: t.TempDir(), Duration: 400 * time.Millisecond, During: func(context.Context) error {
			during, arrived = time.Now().UnixNano(), p.arrived.Load()
			return nil
		}}
		p.arrived.Store(0)
		if _, err := g.Capture(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		g.Close()
		if arrived == 0 || during < arrived {
			t.Errorf("capture %d: the workload started before the Profile request arrived (arrived %d, workload %d)", i, arrived, during)
		}
	}
}
