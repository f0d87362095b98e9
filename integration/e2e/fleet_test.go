package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetCapture runs `fleetprof capture --selector sel --wait --format json`
// with the seed's workload (1 warm-up, 2 /v1/score requests) and returns
// its result; extra flags are added.
type fleetResult struct {
	FleetID string `json:"fleet_id"`
	Done    bool   `json:"done"`
	Agents  []struct {
		AgentID   string `json:"agent_id"`
		CaptureID string `json:"capture_id"`
		Result    string `json:"result"`
		State     string `json:"state"`
		Message   string `json:"message"`
	} `json:"agents"`
}

func fleetCapture(ctx context.Context, t testing.TB, c *collector, sel string, extra ...string) (fleetResult, string, int) {
	t.Helper()
	args := append([]string{"capture", "--selector", sel, "--duration", "500ms", "--start-delay", "300ms",
		"--workload-body", seedBody(t), "--workload-endpoint", "/v1/score", "--warmups", "1", "--requests", "2",
		"--wait", "--format", "json"}, extra...)
	out, errOut, code := cli(ctx, t, c, args...)
	var r fleetResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("fleetprof capture: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return r, errOut, code
}

// TestFleetCaptureEndToEnd is issue 5's "done when": a collector, three
// agents wrapping simulated servers with different labels, a fleet capture
// with the seed's workload on the two a selector matches; both captures are
// then listed, analyzed, exportable (and readable offline) and diffable
// through the CLI, and a restarted collector still has all of it.
func TestFleetCaptureEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a collector and three agents")
	}
	ctx := deadline(t, 3*time.Minute)
	c := newCollector(ctx, t, "")
	agents := []struct{ id, labels string }{
		{"vm-score-a", "model=qwen3,zone=us-east5-b"},
		{"vm-score-b", "model=qwen3,zone=us-east5-a"},
		{"vm-llama", "model=llama3,zone=us-east5-b"},
	}
	for _, a := range agents {
		newAgent(ctx, t, c, a.id, agentOpts{labels: strings.Split(a.labels, ",")})
	}

	res, errOut, code := fleetCapture(ctx, t, c, "model=qwen3")
	if code != 0 || !res.Done || len(res.Agents) != 2 {
		t.Fatalf("fleet capture: exit %d, %+v\n%s", code, res, errOut)
	}
	ids := map[string]string{} // agent -> capture
	for _, a := range res.Agents {
		if a.Result != "done" {
			t.Errorf("agent %s: result %q (%s)", a.AgentID, a.Result, a.Message)
		}
		ids[a.AgentID] = a.CaptureID
	}
	if ids["vm-score-a"] == "" || ids["vm-score-b"] == "" {
		t.Fatalf("the selector model=qwen3 should match vm-score-a and vm-score-b, got %v", ids)
	}
	// Agents answer "done" when their capture is committed; analysis follows.
	var listed []listedCapture
	waitFor(ctx, t, "both captures analyzed", func() bool {
		listed = listCaptures(ctx, t, c, "--selector", "model=qwen3")
		n := 0
		for _, l := range listed {
			if l.Status == "analyzed" {
				n++
			}
		}
		return n == 2
	})
	want := []string{ids["vm-score-a"], ids["vm-score-b"]}
	slices.Sort(want)
	got := captureIDs(listed)
	if !slices.Equal(got, want) {
		t.Fatalf("captures listed %v, want %v", got, want)
	}
	for _, l := range listed {
		if l.Trigger != "fleet" || l.FleetID != res.FleetID || l.Labels["model"] != "qwen3" || l.Size <= 0 {
			t.Errorf("capture %s: trigger %q fleet %q labels %v size %d", l.ID, l.Trigger, l.FleetID, l.Labels, l.Size)
		}
	}
	if n := len(listCaptures(ctx, t, c, "--selector", "model=llama3")); n != 0 {
		t.Errorf("vm-llama has %d captures, want 0 (not selected)", n)
	}

	a, b := ids["vm-score-a"], ids["vm-score-b"]
	checkReport(ctx, t, c, a)
	dir := t.TempDir()
	trace := filepath.Join(dir, "x.trace.json.gz")
	mustCLI(ctx, t, c, "export", a, "-o", trace)
	var insp struct {
		DeviceOpEvents int64 `json:"device_op_events"`
		EventsKept     int64 `json:"events_kept"`
	}
	out := mustCLI(ctx, t, c, "inspect", trace, "--format", "json")
	if err := json.Unmarshal([]byte(out), &insp); err != nil {
		t.Fatalf("inspect --format json: %v\n%s", err, out)
	}
	if insp.DeviceOpEvents == 0 || insp.EventsKept == 0 {
		t.Errorf("inspect of the exported trace: %d device ops, %d events kept, want both > 0", insp.DeviceOpEvents, insp.EventsKept)
	}
	diff := mustCLI(ctx, t, c, "diff", a, b, "--format", "json")
	if !json.Valid([]byte(diff)) || !strings.Contains(diff, a) || !strings.Contains(diff, b) {
		t.Errorf("diff --format json does not name both captures:\n%.600s", diff)
	}
	if table := mustCLI(ctx, t, c, "diff", a, b); len(table) == 0 {
		t.Error("diff printed nothing")
	}

	// A restarted collector keeps everything.
	fpcap := filepath.Join(dir, "before.fpcap")
	mustCLI(ctx, t, c, "export", a, "-o", fpcap)
	c.p.kill()
	c.p.wait(10 * time.Second)
	c.start(ctx)
	after := listCaptures(ctx, t, c, "--selector", "model=qwen3")
	if got := captureIDs(after); !slices.Equal(got, want) {
		t.Fatalf("after a restart the collector lists %v, want %v", got, want)
	}
	for _, l := range after {
		if l.Status != "analyzed" {
			t.Errorf("after a restart %s is %q, want analyzed", l.ID, l.Status)
		}
	}
	checkReport(ctx, t, c, b)
	again := filepath.Join(dir, "after.fpcap")
	mustCLI(ctx, t, c, "export", a, "-o", again)
	if sha(t, fpcap) != sha(t, again) {
		t.Error("the exported .fpcap changed across the restart")
	}
	mustCLI(ctx, t, c, "diff", a, b)
}

// checkReport asserts `fleetprof report ID --format json` has analyzed
// sections without errors.
func checkReport(ctx context.Context, t testing.TB, c *collector, id string) {
	t.Helper()
	out := mustCLI(ctx, t, c, "report", id, "--format", "json")
	var rep struct {
		Summary struct {
			DeviceOpEvents int64 `json:"device_op_events"`
		} `json:"summary"`
		Order    []string `json:"order"`
		Sections map[string]struct {
			Rows  []json.RawMessage `json:"rows"`
			Error string            `json:"error"`
		} `json:"sections"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report %s --format json: %v\n%.400s", id, err, out)
	}
	if len(rep.Order) == 0 || len(rep.Sections) != len(rep.Order) {
		t.Fatalf("report %s: sections %v, order %v", id, len(rep.Sections), rep.Order)
	}
	rows := 0
	for name, s := range rep.Sections {
		if s.Error != "" {
			t.Errorf("report %s: section %s failed: %s", id, name, s.Error)
		}
		rows += len(s.Rows)
	}
	if rows == 0 {
		t.Errorf("report %s: no section has rows", id)
	}
}

// captureIDs returns the sorted ids.
func captureIDs(l []listedCapture) []string {
	var ids []string
	for _, c := range l {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// sha returns the hex SHA-256 of a file.
func sha(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256Hex(b)
}
