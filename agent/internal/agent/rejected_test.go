package agent

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/agent/internal/spool"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// TestRejectedNotTakenAgain is issue 13's finding 5 on the agent: once a
// capture was refused for good, a command for it sent again (a restarted
// collector resends the commands it still tracks) is answered FAILED with
// the reason instead of profiling the server again; Rejected deletes its
// raw output.
func TestRejectedNotTakenAgain(t *testing.T) {
	f := newFixture(t, nil, true)
	raw := filepath.Join(f.work, "raw", "f-1.agent-1")
	if err := os.MkdirAll(raw, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := f.spool.Put(spool.Meta{CaptureID: "f-1.agent-1", RawDir: raw}, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.spool.Reject("f-1.agent-1", "the collector refused it (InvalidArgument): ingest: capture too large"); err != nil {
		t.Fatal(err)
	}
	f.agent.Rejected(m, "too large")
	if _, err := os.Stat(raw); !os.IsNotExist(err) {
		t.Errorf("raw output of a rejected capture: %v, want deleted", err)
	}
	f.agent.Capture(&agentv1.CaptureCommand{CaptureId: "f-1.agent-1"})
	if got := f.prog.states("f-1.agent-1"); !slices.Equal(got, []agentv1.CaptureState{agentv1.CaptureState_CAPTURE_STATE_FAILED}) {
		t.Fatalf("states after the command was sent again = %v, want FAILED only", got)
	}
	f.prog.mu.Lock()
	msg := f.prog.ps[0].GetMessage()
	f.prog.mu.Unlock()
	if !strings.Contains(msg, "upload rejected") || !strings.Contains(msg, "too large") {
		t.Errorf("FAILED message = %q, want the rejection's reason", msg)
	}
	if p := f.agent.Active(); len(p) != 0 {
		t.Errorf("a capture runs: %v", p)
	}
}
