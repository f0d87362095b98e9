package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/fixtures"
)

// TestRequestsFromAnotherClock: the tiny fixture's profile was written long
// ago, so the workload's requests (sent now) cannot be placed on its
// timeline: they are left out and the capture says so.
func TestRequestsFromAnotherClock(t *testing.T) {
	tiny, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "tiny", "tiny-host.xplane.pb"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, tiny, false)
	out, err := f.agent.Do(t.Context(), Spec{ID: "cap-far", Duration: 20 * time.Millisecond, Workload: seedWorkload(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Capture
	if len(c.Requests) != 0 {
		t.Errorf("Requests = %+v, want none", c.Requests)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.HasPrefix(w, "2 workload request(s) were sent more than 24h0m0s") }) {
		t.Errorf("Warnings = %q, want one about 2 requests left out", c.Warnings)
	}
}
