package ingest

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// TestCostlyCaptureRefused is finding 2 of issue 13: a 16 MB .fpcap of
// empty events took the collector to 4.3 GB, and its staged part crashed it
// again on every resume. It is now refused while it streams in, naming the
// bound, having cost a few MiB; its staged part is dropped, so a resume
// starts over and is refused the same way.
func TestCostlyCaptureRefused(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	data, sum := capturetest.EmptyEvents(16 << 20)
	u := agenttest.UploadSpec{CaptureID: "costly", AgentID: "a", Data: data, SHA256: sum}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := agenttest.Upload(ctx, e.cc, u)
	runtime.ReadMemStats(&after)
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "expansion=") || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("Upload(16 MB of empty events) = %+v, %v; want InvalidArgument naming the expansion bound", res, err)
	}
	if res.Acked > 3 {
		t.Errorf("refused after %d chunks were staged, want within the first few", res.Acked)
	}
	// The upload and its staging copy this process's 16 MB a few times;
	// decoding it took 5 GB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
		t.Errorf("the refused upload allocated %d MiB, want under 256", n>>20)
	}
	staged := func() int {
		var n int
		_ = e.db.View(ctx, func(r *store.Reader) error {
			ups, err := r.Uploads()
			n = len(ups)
			return err
		})
		return n
	}
	if n := staged(); n != 0 {
		t.Errorf("%d staged uploads left after the refusal, want 0", n)
	}
	res, err = agenttest.Upload(ctx, e.cc, u)
	if code(err) != codes.InvalidArgument || res.Resumed != 0 {
		t.Errorf("second attempt = %+v, %v; want a fresh start refused again", res, err)
	}
}

// TestCostlyCaptureRefusedOnResume: bytes staged under looser limits (or
// before there were any) are checked when the upload resumes: the resume is
// refused and the staged part dropped instead of parsed into memory.
func TestCostlyCaptureRefusedOnResume(t *testing.T) {
	ctx := context.Background()
	e := startWith(t, Config{Limits: fpcap.Limits{MaxExpansion: -1, MaxEvents: -1, MaxDecodedBytes: -1}})
	data, sum := capturetest.EmptyEvents(4 << 20)
	u := agenttest.UploadSpec{CaptureID: "costly", AgentID: "a", Data: data, SHA256: sum, StopAfter: 3}
	if _, err := agenttest.Upload(ctx, e.cc, u); err != nil {
		t.Fatal(err)
	}
	// The same store served under the default limits.
	cc := serveIngest(t, New(Config{Store: e.db}))
	u.StopAfter = 0
	res, err := agenttest.Upload(ctx, cc, u)
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "expansion=") || res.Resumed != 3 {
		t.Fatalf("resume under the default limits = %+v, %v; want resumed at 3 and refused naming expansion", res, err)
	}
	_ = e.db.View(ctx, func(r *store.Reader) error {
		if ups, _ := r.Uploads(); len(ups) != 0 {
			t.Errorf("%d staged uploads left after the refusal, want 0", len(ups))
		}
		return nil
	})
}

// serveIngest serves in on loopback and returns a connection to it.
func serveIngest(t *testing.T, in *Ingest) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(4 << 20))
	agentv1.RegisterAgentServiceServer(srv, &uploadServer{in: in})
	go srv.Serve(lis)
	cc, err := agenttest.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return cc
}
