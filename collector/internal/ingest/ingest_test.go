package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// uploadServer serves Upload with an Ingest.
type uploadServer struct {
	agentv1.UnimplementedAgentServiceServer
	in *Ingest
}

func (s *uploadServer) Upload(stream agentv1.AgentService_UploadServer) error {
	err := s.in.Serve(stream)
	if err == nil {
		return nil
	}
	// A test-sized toStatus: the api package's does this for real.
	for _, m := range []struct {
		err  error
		code codes.Code
	}{
		{ErrBadID, codes.InvalidArgument}, {ErrBadStart, codes.InvalidArgument}, {ErrProtocol, codes.InvalidArgument},
		{ErrMalformed, codes.InvalidArgument}, {ErrChunkTooLarge, codes.InvalidArgument}, {ErrChecksum, codes.DataLoss},
		{ErrTooLarge, codes.InvalidArgument}, {ErrSequence, codes.FailedPrecondition}, {ErrSize, codes.FailedPrecondition},
		{ErrEmptyChunks, codes.InvalidArgument}, {ErrNotOwner, codes.PermissionDenied}, {ErrBusy, codes.ResourceExhausted},
		{ErrAgentBusy, codes.ResourceExhausted}, {ErrNoStart, codes.DeadlineExceeded}, {ErrIdle, codes.DeadlineExceeded},
	} {
		if errorsIs(err, m.err) {
			return status.Error(m.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

type env struct {
	db        *store.DB
	in        *Ingest
	cc        *grpc.ClientConn
	committed chan *store.Capture
}

func start(t *testing.T, max int64) *env {
	t.Helper()
	return startWith(t, Config{MaxCaptureBytes: max})
}

// startWith serves an Ingest configured as cfg (its Store and OnCommit are
// set here) on loopback.
func startWith(t *testing.T, cfg Config) *env {
	t.Helper()
	db := storetest.Open(t)
	e := &env{db: db, committed: make(chan *store.Capture, 16)}
	cfg.Store = db
	cfg.OnCommit = func(c *store.Capture) { e.committed <- c }
	e.in = New(cfg)
	e.cc = serveIngest(t, e.in)
	return e
}

func testCapture() ([]byte, []byte) {
	var ops []capturetest.Op
	for i := range 40 {
		ops = append(ops, capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: int64(i) * 10 * capture.Microsecond, Dur: 5 * capture.Microsecond})
	}
	return capturetest.Fpcap(capturetest.Capture(1_700_000_000_000_000_000, ops...))
}

func code(err error) codes.Code { return status.Code(err) }

func TestResumeAfterBreak(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	data, sum := testCapture()
	const chunk = 256
	chunks := int64((len(data) + chunk - 1) / chunk)
	if chunks < 5 {
		t.Fatalf("test capture has %d chunks, want at least 5", chunks)
	}
	u := agenttest.UploadSpec{CaptureID: "cap-1", AgentID: "a1", Data: data, SHA256: sum, ChunkBytes: chunk, StopAfter: 3}
	res, err := agenttest.Upload(ctx, e.cc, u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 || res.Acked != 3 || res.Committed {
		t.Fatalf("first attempt = %+v, want resumed 0, acked 3, not committed", res)
	}
	// Invisible while staged.
	_ = e.db.View(ctx, func(r *store.Reader) error {
		if r.Committed("cap-1") {
			t.Error("capture visible before UploadEnd")
		}
		return nil
	})
	u.StopAfter = 0
	res, err = agenttest.Upload(ctx, e.cc, u)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 3 || res.Acked != chunks || !res.Committed {
		t.Fatalf("second attempt = %+v, want resumed 3, acked %d, committed", res, chunks)
	}
	rec := <-e.committed
	if rec.ID != "cap-1" || rec.SizeBytes != int64(len(data)) || rec.Chunks != chunks || rec.Trigger != "manual" || rec.Status != store.StatusCommitted {
		t.Errorf("record = %+v", rec)
	}
	var s capture.Summary
	if err := json.Unmarshal(rec.Summary, &s); err != nil {
		t.Fatal(err)
	}
	if s.DeviceOpEvents != 40 || s.EventsKept != 40 {
		t.Errorf("summary: %d device ops, %d kept, want 40, 40", s.DeviceOpEvents, s.EventsKept)
	}
	// What analysis takes instead of decoding the capture again: the
	// summary and the tally of a full read.
	wantTally, full, err := fpcap.ReadTally(bytes.NewReader(data), fpcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary, _ := json.Marshal(capture.Summarize(full))
	if !bytes.Equal(rec.Summary, wantSummary) {
		t.Errorf("stored summary differs from a full read's:\n%s\n%s", rec.Summary, wantSummary)
	}
	var tally fpcap.Tally
	if err := json.Unmarshal(rec.Tally, &tally); err != nil {
		t.Fatalf("stored tally %q: %v", rec.Tally, err)
	}
	if tally != wantTally {
		t.Errorf("stored tally = %+v, a full read's %+v", tally, wantTally)
	}
	var blob bytes.Buffer
	_ = e.db.View(ctx, func(r *store.Reader) error { _, err := r.WriteBlob("cap-1", &blob); return err })
	if !bytes.Equal(blob.Bytes(), data) {
		t.Errorf("stored blob differs from the upload (%d vs %d bytes)", blob.Len(), len(data))
	}

	// A repeated upload of the committed capture: committed at once.
	res, err = agenttest.Upload(ctx, e.cc, u)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed || res.Resumed != chunks {
		t.Errorf("repeated upload = %+v, want committed at once", res)
	}
	select {
	case c := <-e.committed:
		t.Errorf("repeated upload committed again: %s", c.ID)
	default:
	}
}

func TestRejected(t *testing.T) {
	ctx := context.Background()
	data, sum := testCapture()
	bad := sha256.Sum256([]byte("other"))
	garbage := bytes.Repeat([]byte("x"), 300)
	gsum := sha256.Sum256(garbage)
	tests := []struct {
		name string
		max  int64
		u    agenttest.UploadSpec
		want codes.Code
	}{
		{"sha mismatch", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: bad[:]}, codes.DataLoss},
		{"oversize announced", 100, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"more than announced", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum, Bytes: 10}, codes.InvalidArgument},
		{"chunk over 1 MiB", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: make([]byte, 1<<20+1), SHA256: sum, ChunkBytes: 1<<20 + 1}, codes.InvalidArgument},
		{"not fpcap", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: garbage, SHA256: gsum[:]}, codes.InvalidArgument},
		{"no agent", 0, agenttest.UploadSpec{CaptureID: "c", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"agent with space", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a b", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"agent dot dot", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "..", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"short sha", 0, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum[:8]}, codes.InvalidArgument},
		{"id with slash", 0, agenttest.UploadSpec{CaptureID: "a/b", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"id dot dot", 0, agenttest.UploadSpec{CaptureID: "..", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"id with dot dot", 0, agenttest.UploadSpec{CaptureID: "x..y", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"id with space", 0, agenttest.UploadSpec{CaptureID: "a b", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"id empty", 0, agenttest.UploadSpec{CaptureID: "", AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
		{"id too long", 0, agenttest.UploadSpec{CaptureID: strings.Repeat("a", 129), AgentID: "a", Data: data, SHA256: sum}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, tt.max)
			_, err := agenttest.Upload(ctx, e.cc, tt.u)
			if code(err) != tt.want {
				t.Fatalf("Upload: %v, want code %v", err, tt.want)
			}
			_ = e.db.View(ctx, func(r *store.Reader) error {
				if r.Committed(tt.u.CaptureID) {
					t.Error("rejected capture is committed")
				}
				return nil
			})
		})
	}
}

func TestChecksumDropsStaging(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	data, sum := testCapture()
	bad := sha256.Sum256([]byte("other"))
	_, err := agenttest.Upload(ctx, e.cc, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: bad[:], ChunkBytes: 256})
	if code(err) != codes.DataLoss {
		t.Fatalf("Upload with a wrong sha256: %v, want DataLoss", err)
	}
	res, err := agenttest.Upload(ctx, e.cc, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum, ChunkBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 0 || !res.Committed {
		t.Errorf("upload after a checksum failure = %+v, want a fresh start and commit", res)
	}
}

func TestOutOfSequence(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	data, sum := testCapture()
	stream, err := agentv1.NewAgentServiceClient(e.cc).Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{CaptureId: "c", AgentId: "a", Chunks: 2, Bytes: int64(len(data)), Sha256: sum}}})
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: 1, Offset: 10, Data: data[10:20]}}})
	if _, err := stream.Recv(); code(err) != codes.FailedPrecondition {
		t.Errorf("chunk 1 before chunk 0: %v, want FailedPrecondition", err)
	}
	// UploadEnd before every byte arrived.
	stream, _ = agentv1.NewAgentServiceClient(e.cc).Upload(ctx)
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{CaptureId: "c", AgentId: "a", Chunks: 2, Bytes: int64(len(data)), Sha256: sum}}})
	_, _ = stream.Recv()
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: 2}}})
	if _, err := stream.Recv(); code(err) != codes.FailedPrecondition {
		t.Errorf("UploadEnd with nothing staged: %v, want FailedPrecondition", err)
	}
	// No UploadStart first.
	stream, _ = agentv1.NewAgentServiceClient(e.cc).Upload(ctx)
	_ = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{}}})
	if _, err := stream.Recv(); code(err) != codes.InvalidArgument {
		t.Errorf("UploadEnd first: %v, want InvalidArgument", err)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	data, sum := testCapture()
	if _, err := agenttest.Upload(ctx, e.cc, agenttest.UploadSpec{CaptureID: "old", AgentID: "a", Data: data, SHA256: sum, ChunkBytes: 256, StopAfter: 1}); err != nil {
		t.Fatal(err)
	}
	_ = e.db.Update(ctx, func(w *store.Writer) error {
		return w.PutCommand(&store.Command{CaptureID: "never", AgentID: "a", CreatedNS: time.Now().UnixNano()})
	})
	in := New(Config{Store: e.db})
	if n, err := in.Sweep(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("Sweep of a fresh upload = %d, %v; want 0", n, err)
	}
	if n, err := in.Sweep(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Errorf("Sweep of a stale upload = %d, %v; want 1", n, err)
	}
	_ = e.db.View(ctx, func(r *store.Reader) error {
		if cmds, _ := r.Commands(); len(cmds) != 0 {
			t.Errorf("stale commands left: %v", cmds)
		}
		return nil
	})
	res, err := agenttest.Upload(ctx, e.cc, agenttest.UploadSpec{CaptureID: "old", AgentID: "a", Data: data, SHA256: sum, ChunkBytes: 256})
	if err != nil || res.Resumed != 0 || !res.Committed {
		t.Errorf("upload after the sweep = %+v, %v; want a fresh start", res, err)
	}
}
