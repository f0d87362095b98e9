package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScheduleCommands(t *testing.T) {
	c := startCollector(t, t.TempDir(), "")
	at := "--collector=" + c.addr

	out := mustRun(t, "schedule", "add", "hourly-qwen", at, "--cron", "@hourly", "--selector", "model=qwen3",
		"--fraction", "0.25", "--jitter", "2m", "--duration", "3s", "--max-concurrent", "4", "--skip-if-busy", "--label", "why=nightly")
	if !strings.Contains(out, "hourly-qwen") || !strings.Contains(out, "25%") || !strings.Contains(out, "active") {
		t.Errorf("schedule add printed:\n%s", out)
	}
	mustRun(t, "schedule", "add", "nightly", at, "--cron", "0 3 * * *", "--selector", "zone=us-east5-b", "--count", "2", "--paused")

	var list []scheduleJSON
	if err := json.Unmarshal([]byte(mustRun(t, "schedule", "list", at, "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "hourly-qwen" || list[1].Name != "nightly" {
		t.Fatalf("schedule list = %+v, want hourly-qwen and nightly", list)
	}
	h, n := list[0], list[1]
	if h.SampleFraction != 0.25 || h.JitterMs != 120000 || h.DurationMs != 3000 || h.MaxConcurrent != 4 || !h.SkipIfBusy || h.NextRun == nil || h.Labels["why"] != "nightly" {
		t.Errorf("hourly-qwen = %+v", h)
	}
	if !n.Paused || n.NextRun != nil || n.SampleCount != 2 {
		t.Errorf("nightly = %+v, want paused, no next run, count 2", n)
	}

	if out := mustRun(t, "schedule", "resume", "nightly", at); !strings.Contains(out, "resumed") || !strings.Contains(out, "next run ") {
		t.Errorf("schedule resume printed %q", out)
	}
	mustRun(t, "schedule", "pause", n.ID, at)
	mustRun(t, "schedule", "rm", "hourly-qwen", at)
	out = mustRun(t, "schedule", "list", at)
	if strings.Contains(out, "hourly-qwen") || !strings.Contains(out, "paused") {
		t.Errorf("schedule list after rm and pause:\n%s", out)
	}

	// Errors: usage (exit 2) and the collector's (exit 1), in plain words.
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schedule", "add", "x", at, "--selector", "a=b"}, 2, "--cron is required"},
		{[]string{"schedule", "add", "x", at, "--cron", "@daily"}, 2, "--selector is required"},
		{[]string{"schedule", "add", "x", at, "--cron", "@daily", "--selector", "a", "--fraction", "2"}, 2, "--fraction is in (0, 1]"},
		{[]string{"schedule", "add", "x", at, "--cron", "every day", "--selector", "a"}, 1, "invalidargument"},
		{[]string{"schedule", "add", "nightly", at, "--cron", "@daily", "--selector", "a"}, 1, "alreadyexists"},
		{[]string{"schedule", "rm", "nope", at}, 1, "no such schedule"},
		{[]string{"schedule", "pause", at}, 2, "takes 1 argument"},
	}
	for _, tt := range tests {
		_, errOut, code := fleetprof(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("fleetprof %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, errOut, tt.code, tt.want)
		}
	}
}
