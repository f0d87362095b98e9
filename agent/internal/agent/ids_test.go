package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// TestHostileCommandIDs: a capture command whose id would escape the work
// folder is answered FAILED and touches nothing.
func TestHostileCommandIDs(t *testing.T) {
	f := tinyFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go f.agent.Run(ctx)
	for _, id := range []string{"../../etc/passwd", "a/b", "..", "a\x00b"} {
		f.agent.Capture(&agentv1.CaptureCommand{CaptureId: id})
		if got := f.prog.states(id); !slices.Equal(got, []agentv1.CaptureState{agentv1.CaptureState_CAPTURE_STATE_FAILED}) {
			t.Errorf("command %q: progress %v, want [FAILED]", id, got)
		}
		if _, err := f.agent.Do(ctx, Spec{ID: id}); !errors.Is(err, ids.ErrBad) {
			t.Errorf("Do(%q) = %v, want ids.ErrBad", id, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(f.work, "raw")); len(ents) != 0 {
		t.Errorf("raw folder holds %d entries, want 0", len(ents))
	}
	if f.srv.Count("/start_profile") != 0 {
		t.Error("the profiler was started for a hostile id")
	}
}
