package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/internal/simserver"
)

// experimentReport is the part of an experiment's JSON report checked here.
type experimentReport struct {
	ExperimentID string   `json:"experiment_id"`
	Status       string   `json:"status"`
	Endpoints    []string `json:"endpoints"`
	Cells        []struct {
		Params             map[string]int64   `json:"params"`
		Endpoint           string             `json:"endpoint"`
		CaptureIDs         []string           `json:"capture_ids"`
		Status             string             `json:"status"`
		Requests           int64              `json:"requests"`
		DeviceUSPerRequest float64            `json:"device_us_per_request"`
		Components         map[string]float64 `json:"components"`
		Ops                map[string]float64 `json:"ops"`
	} `json:"cells"`
	Fits []struct {
		Endpoint string           `json:"endpoint"`
		Param    string           `json:"param"`
		Fixed    map[string]int64 `json:"fixed"`
		Metric   string           `json:"metric"`
		Points   int              `json:"points"`
		Slope    float64          `json:"slope"`
		Exponent float64          `json:"exponent"`
		R2       float64          `json:"r2"`
	} `json:"fits"`
}

// requestsSection is a capture report's requests section.
type requestsSection struct {
	Rows    []map[string]any `json:"rows"`
	Summary []struct {
		Key   string  `json:"key"`
		Value float64 `json:"value"`
	} `json:"summary"`
}

// TestExperimentEndToEnd: an experiment over three input lengths and two
// batch sizes, on both endpoints, on two agents wrapping the simulated
// server: one capture per cell on each agent, every capture with a requests
// section whose device times add up, and a fitted attention exponent within
// 10 % of the simulated server's cost model.
func TestExperimentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a collector, two agents and twelve captures each")
	}
	ctx := deadline(t, 8*time.Minute)
	c := newCollector(ctx, t, "")
	for _, id := range []string{"vm-x-a", "vm-x-b"} {
		newAgent(ctx, t, c, id, agentOpts{labels: []string{"model=qwen3", "exp=yes"}})
	}
	out := t.TempDir()
	stdout, stderr := runLong(ctx, t, c, "experiment", "--selector", "exp=yes", "--workload-body", seedBody(t),
		"--vary", "input_len=128,512,2048", "--vary", "batch=1,4", "--endpoints", "/v1/score,/generate",
		"--name", "e2e scaling", "--wait", "--format", "json", "-o", out, "--report-format", "md")
	var rep experimentReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("experiment --format json: %v\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if rep.Status != "done" || len(rep.Cells) != 12 || strings.Join(rep.Endpoints, ",") != "/v1/score,/generate" {
		t.Fatalf("experiment %s: status %s, %d cells, endpoints %v\nstderr:\n%s", rep.ExperimentID, rep.Status, len(rep.Cells), rep.Endpoints, stderr)
	}
	for i, cell := range rep.Cells {
		// One capture per cell on each of the two agents; /v1/score sends one
		// request of batch items, /generate batch concurrent requests.
		wantReq := int64(2)
		if cell.Endpoint == "/generate" {
			wantReq = 2 * cell.Params["batch"]
		}
		if cell.Status != "done" || len(cell.CaptureIDs) != 2 || cell.Requests != wantReq || cell.DeviceUSPerRequest <= 0 || cell.Components["attention"] <= 0 {
			t.Errorf("cell %d (%s %v): status %s, captures %v, %d requests (want %d), %.1f µs/request, components %v",
				i, cell.Endpoint, cell.Params, cell.Status, cell.CaptureIDs, cell.Requests, wantReq, cell.DeviceUSPerRequest, cell.Components)
		}
	}

	// The fitted exponents recover the cost model's: attention grows as L²
	// (within 10 %) and, for /v1/score, linearly in the batch.
	found := 0
	for _, f := range rep.Fits {
		if f.Metric != "component:attention" {
			continue
		}
		var want float64
		switch {
		case f.Param == "input_len":
			want = simserver.AttentionExponent
		case f.Param == "batch" && f.Endpoint == "/v1/score":
			want = 1
		case f.Param == "batch" && f.Endpoint == "/generate":
			want = 0 // concurrent requests each run their own prefill
		}
		found++
		if math.Abs(f.Exponent-want) > 0.1*math.Max(want, 1) || f.Points < 2 {
			t.Errorf("%s: attention against %s at %v: exponent %.3f over %d points, want %.1f ± 10 %%", f.Endpoint, f.Param, f.Fixed, f.Exponent, f.Points, want)
		} else {
			t.Logf("%s: attention against %s at %v: exponent %.3f (model %.1f), R² %.4f", f.Endpoint, f.Param, f.Fixed, f.Exponent, want, f.R2)
		}
	}
	// Per endpoint: against input_len at 2 batches, against batch at 3 lengths.
	if found != 2*(2+3) {
		t.Errorf("%d attention fits, want %d", found, 2*(2+3))
	}

	// Every capture taken with the workload has a requests section; the
	// requests' device times add up to the busy time in their spans, and
	// /generate's concurrent requests share theirs.
	for _, cell := range rep.Cells {
		for _, id := range cell.CaptureIDs {
			var r struct {
				Sections map[string]requestsSection `json:"sections"`
			}
			b := mustCLI(ctx, t, c, "report", id, "--format", "json")
			if err := json.Unmarshal([]byte(b), &r); err != nil {
				t.Fatal(err)
			}
			s, ok := r.Sections["requests"]
			if !ok || int64(len(s.Rows)) != cell.Requests/2 {
				t.Errorf("capture %s (%s %v): requests section %v with %d rows, want %d", id, cell.Endpoint, cell.Params, ok, len(s.Rows), cell.Requests/2)
				continue
			}
			var sum, shared, busy float64
			for _, row := range s.Rows {
				sum += row["device_busy_ms"].(float64)
				shared += row["shared_ms"].(float64)
			}
			for _, m := range s.Summary {
				if m.Key == "device_busy_ms" {
					busy = m.Value
				}
			}
			if math.Abs(sum-busy) > 1e-6 || busy <= 0 {
				t.Errorf("capture %s: request device times sum to %v ms, busy in their spans %v ms", id, sum, busy)
			}
			if batched := cell.Endpoint == "/generate" && cell.Params["batch"] > 1; batched != (shared > 0) {
				t.Errorf("capture %s (%s %v): shared %v ms", id, cell.Endpoint, cell.Params, shared)
			}
		}
	}

	// The Markdown report with a chart per endpoint and batch.
	for _, name := range []string{"experiment.md", "images/score-batch-1.svg", "images/score-batch-4.svg", "images/generate-batch-1.svg", "images/generate-batch-4.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("report: %v", err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "experiment.md"))
	if !strings.Contains(string(md), "## Endpoints side by side") {
		t.Error("experiment.md does not put the endpoints side by side")
	}
	if list := mustCLI(ctx, t, c, "experiment", "list"); !strings.Contains(list, rep.ExperimentID) || !strings.Contains(list, "e2e scaling") {
		t.Errorf("experiment list:\n%s", list)
	}
	if table := mustCLI(ctx, t, c, "experiment", "show", rep.ExperimentID); !strings.Contains(table, "component:attention") {
		t.Errorf("experiment show:\n%s", table)
	}
}

// runLong runs fleetprof against the collector, bounded by ctx only, and
// fails the test unless it exits 0.
func runLong(ctx context.Context, t *testing.T, c *collector, args ...string) (string, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(bins, "fleetprof"), append([]string{"--collector", c.addr}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("fleetprof %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}
