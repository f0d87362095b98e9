package registry

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// TestPendingOnlyOwn is issue 13's finding 1 at Register: an agent's
// pending captures are answered "committed" only for captures committed as
// its own, so Register cannot be used to learn which capture ids exist.
func TestPendingOnlyOwn(t *testing.T) {
	e := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := []byte("x")
	sum := sha256.Sum256(data)
	for id, agent := range map[string]string{"f-1.victim": "victim", "f-1.mallory": "mallory"} {
		err := e.db.Update(ctx, func(w *store.Writer) error {
			if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: agent, Chunks: 1, Bytes: 1, SHA256: sum[:]}); err != nil {
				return err
			}
			if _, err := w.StageChunk(id, 0, 0, data); err != nil {
				return err
			}
			return w.Commit(&store.Capture{ID: id, AgentID: agent, SizeBytes: 1, CreatedNS: time.Now().UnixNano()})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	reg := &agentv1.Register{AgentId: "mallory", PendingCaptures: []string{"f-1.victim", "f-1.mallory", "f-2.none"}}
	stream := e.open(t, ctx, &agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: reg}})
	m, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.GetRegistered().GetCommitted(), []string{"f-1.mallory"}; !slices.Equal(got, want) {
		t.Errorf("Registered.committed = %v, want only mallory's own %v", got, want)
	}
}
