package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// identity is the agent identity the server's guard would take from the
// client certificate; the tests send it as x-agent metadata.
func identity(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-agent"); len(v) == 1 {
		return v[0]
	}
	return ""
}

// as is ctx for calls made with agent's certificate.
func as(ctx context.Context, agent string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-agent", agent)
}

// TestOwnerBinding is issue 13's finding 1: an agent cannot upload (and so
// replace or complete) a capture commanded to another agent, nor one that
// another agent staged or committed first; the owner's own upload goes on.
func TestOwnerBinding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := startWith(t, Config{Identity: identity})
	data, sum := testCapture()
	forged, fsum := testCapture()
	forged = append([]byte(nil), forged...)
	if err := e.db.Update(ctx, func(w *store.Writer) error {
		return w.PutCommand(&store.Command{CaptureID: "f-1.victim", AgentID: "victim", FleetID: "f-1", Trigger: "fleet", CreatedNS: time.Now().UnixNano()})
	}); err != nil {
		t.Fatal(err)
	}
	upload := func(agent string, u agenttest.UploadSpec) (agenttest.Result, error) {
		u.AgentID = agent
		return agenttest.Upload(as(ctx, agent), e.cc, u)
	}
	staged := func(id string) *store.Upload {
		var u *store.Upload
		_ = e.db.View(ctx, func(r *store.Reader) error { u, _ = r.Upload(id); return nil })
		return u
	}

	// The fleet command went to victim: mallory's upload under its id is refused.
	if _, err := upload("mallory", agenttest.UploadSpec{CaptureID: "f-1.victim", Data: forged, SHA256: fsum}); code(err) != codes.PermissionDenied {
		t.Fatalf("mallory uploads victim's fleet capture: %v, want PermissionDenied", err)
	}
	if u := staged("f-1.victim"); u != nil {
		t.Errorf("mallory's refused upload left a staged upload: %+v", u)
	}
	// The victim's own upload commits, as a fleet capture of the victim.
	res, err := upload("victim", agenttest.UploadSpec{CaptureID: "f-1.victim", Data: data, SHA256: sum})
	if err != nil || !res.Committed {
		t.Fatalf("victim's upload = %+v, %v; want committed", res, err)
	}
	if rec := <-e.committed; rec.AgentID != "victim" || rec.Trigger != "fleet" || rec.FleetID != "f-1" {
		t.Errorf("committed record = %+v, want victim's fleet capture", rec)
	}
	// Once committed, another agent is not told "committed" (it would drop
	// its spool entry) but refused.
	if res, err := upload("mallory", agenttest.UploadSpec{CaptureID: "f-1.victim", Data: forged, SHA256: fsum}); code(err) != codes.PermissionDenied {
		t.Errorf("mallory uploads victim's committed capture: %+v, %v; want PermissionDenied", res, err)
	}
	// Ad-hoc: the first agent to stage an id owns it; another agent can
	// neither take it over nor drop its staged chunks.
	if _, err := upload("victim", agenttest.UploadSpec{CaptureID: "adhoc-1", Data: data, SHA256: sum, ChunkBytes: 256, StopAfter: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := upload("mallory", agenttest.UploadSpec{CaptureID: "adhoc-1", Data: forged, SHA256: fsum, ChunkBytes: 256}); code(err) != codes.PermissionDenied {
		t.Errorf("mallory uploads victim's staged ad-hoc capture: %v, want PermissionDenied", err)
	}
	res, err = upload("victim", agenttest.UploadSpec{CaptureID: "adhoc-1", Data: data, SHA256: sum, ChunkBytes: 256})
	if err != nil || !res.Committed || res.Resumed != 2 {
		t.Errorf("victim resumes adhoc-1 = %+v, %v; want resumed at 2 and committed", res, err)
	}
	if rec := <-e.committed; rec.AgentID != "victim" {
		t.Errorf("adhoc-1 committed as %q's", rec.AgentID)
	}
	if got := testutil.ToFloat64(e.in.rejected.WithLabelValues("not_owner")); got != 3 {
		t.Errorf("rejected{reason=not_owner} = %v, want 3", got)
	}
}

// waitOpen waits until the Ingest serves n streams.
func waitOpen(t *testing.T, in *Ingest, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for in.slots.open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d upload streams open, want %d", in.slots.open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUploadSlots is issue 13's finding 4: one agent identity holds at
// most its own few slots, so its idle streams do not keep other agents
// out; the global cap stays as the last line; and a stream that never
// sends its UploadStart gives its slot back at the first-message deadline.
func TestUploadSlots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const startTimeout = 700 * time.Millisecond
	e := startWith(t, Config{Identity: identity, MaxUploads: 3, MaxUploadsPerAgent: 2, StartTimeout: startTimeout})
	client := agentv1.NewAgentServiceClient(e.cc)
	open := func(agent string) agentv1.AgentService_UploadClient {
		s, err := client.Upload(as(ctx, agent))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t0 := time.Now()
	held := []agentv1.AgentService_UploadClient{open("mallory"), open("mallory")}
	waitOpen(t, e.in, 2)
	if _, err := open("mallory").Recv(); code(err) != codes.ResourceExhausted {
		t.Errorf("mallory's third stream: %v, want ResourceExhausted", err)
	}
	data, sum := testCapture()
	res, err := agenttest.Upload(as(ctx, "victim"), e.cc, agenttest.UploadSpec{CaptureID: "v-1", AgentID: "victim", Data: data, SHA256: sum})
	if err != nil || !res.Committed {
		t.Errorf("victim's upload while mallory holds its slots = %+v, %v; want committed", res, err)
	}
	// The global cap: mallory's two and eve's one fill it.
	eve := open("eve")
	waitOpen(t, e.in, 3)
	if _, err := open("victim").Recv(); code(err) != codes.ResourceExhausted {
		t.Errorf("a stream past the global cap: %v, want ResourceExhausted", err)
	}
	// Streams that never send UploadStart end at the deadline.
	for _, s := range append(held, eve) {
		if _, err := s.Recv(); code(err) != codes.DeadlineExceeded {
			t.Errorf("a stream without UploadStart ended with %v, want DeadlineExceeded", err)
		}
	}
	if d := time.Since(t0); d < startTimeout || d > 10*time.Second {
		t.Errorf("idle streams closed after %v, want about %v", d, startTimeout)
	}
	waitOpen(t, e.in, 0)
	for r, want := range map[string]float64{"agent_busy": 1, "busy": 1, "no_start": 3} {
		if got := testutil.ToFloat64(e.in.rejected.WithLabelValues(r)); got != want {
			t.Errorf("rejected{reason=%s} = %v, want %v", r, got, want)
		}
	}
}

// TestIdleDeadline is issue 13's finding 4: an upload stream that stops
// sending is closed at the idle deadline, its slot freed and its staged
// chunks kept for the resume.
func TestIdleDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const idle = 400 * time.Millisecond
	e := startWith(t, Config{Identity: identity, IdleTimeout: idle})
	data, sum := testCapture()
	s, err := agentv1.NewAgentServiceClient(e.cc).Upload(as(ctx, "a"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
		CaptureId: "c", AgentId: "a", Chunks: 2, Bytes: int64(len(data)), Sha256: sum}}})
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: 0, Offset: 0, Data: data[:256]}}})
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := s.Recv(); code(err) != codes.DeadlineExceeded {
		t.Fatalf("an idle upload stream ended with %v, want DeadlineExceeded", err)
	}
	if d := time.Since(t0); d < idle/2 || d > 10*time.Second {
		t.Errorf("idle stream closed after %v, want about %v", d, idle)
	}
	waitOpen(t, e.in, 0)
	res, err := agenttest.Upload(as(ctx, "a"), e.cc, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum, ChunkBytes: 256})
	if err != nil || res.Resumed != 1 || !res.Committed {
		t.Errorf("upload after the idle close = %+v, %v; want resumed at 1 and committed", res, err)
	}
}

// TestEmptyChunks is issue 13's finding 9: empty chunks are acknowledged
// without a write, a few per stream; one more ends the stream with
// InvalidArgument.
func TestEmptyChunks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := start(t, 0)
	data, sum := testCapture()
	s, err := agentv1.NewAgentServiceClient(e.cc).Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
		CaptureId: "c", AgentId: "a", Chunks: 1, Bytes: int64(len(data)), Sha256: sum}}})
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	var before store.Upload
	_ = e.db.View(ctx, func(r *store.Reader) error { u, err := r.Upload("c"); before = *u; return err })
	empty := &agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: 0, Offset: 0}}}
	for i := range MaxEmptyChunks {
		_ = s.Send(empty)
		ack, err := s.Recv()
		if err != nil || ack.GetNextSeq() != 0 {
			t.Fatalf("empty chunk %d: ack %v, %v; want next_seq 0", i, ack, err)
		}
	}
	_ = s.Send(empty)
	if _, err := s.Recv(); code(err) != codes.InvalidArgument {
		t.Fatalf("empty chunk %d: %v, want InvalidArgument", MaxEmptyChunks+1, err)
	}
	_ = e.db.View(ctx, func(r *store.Reader) error {
		u, err := r.Upload("c")
		if err != nil || u.NextSeq != 0 || u.NextOffset != 0 || u.UpdatedNS != before.UpdatedNS {
			t.Errorf("staged upload after empty chunks = %+v, %v; want untouched %+v", u, err, before)
		}
		return nil
	})
	res, err := agenttest.Upload(ctx, e.cc, agenttest.UploadSpec{CaptureID: "c", AgentID: "a", Data: data, SHA256: sum})
	if err != nil || !res.Committed {
		t.Errorf("upload after the refused stream = %+v, %v; want committed", res, err)
	}
}
