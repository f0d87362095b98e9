package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// insightFleet is what the e2e tests read of `fleetprof fleet --format json`.
type insightFleet struct {
	FleetID string `json:"fleet_id"`
	Per     string `json:"per"`
	Hosts   []struct {
		AgentID   string  `json:"agent_id"`
		CaptureID string  `json:"capture_id"`
		Outlier   bool    `json:"outlier"`
		PerReq    float64 `json:"device_op_us_per_request"`
	} `json:"hosts"`
	Outliers []struct {
		AgentID string  `json:"agent_id"`
		Metric  string  `json:"metric"`
		Value   float64 `json:"value"`
		Median  float64 `json:"median"`
		Ratio   float64 `json:"ratio"`
		Ops     []struct {
			Operation string  `json:"operation"`
			Delta     float64 `json:"delta"`
		} `json:"ops"`
	} `json:"outliers"`
}

// insightChange is a row of `fleetprof regressions --format json`.
type insightChange struct {
	CaptureID string   `json:"capture_id"`
	Baseline  []string `json:"baseline_capture_ids"`
	AgentID   string   `json:"agent_id"`
	Metric    string   `json:"metric"`
	Before    float64  `json:"before"`
	After     float64  `json:"after"`
	ChangePct float64  `json:"change_pct"`
	Direction string   `json:"direction"`
	Ops       []struct {
		Operation string `json:"operation"`
	} `json:"ops"`
}

// waitFleet waits until the fleet report of id lists n hosts.
func waitFleet(ctx context.Context, t *testing.T, c *collector, id string, n int) insightFleet {
	t.Helper()
	var r insightFleet
	waitFor(ctx, t, "the fleet report of "+id+" to list every host", func() bool {
		out, _, code := cli(ctx, t, c, "fleet", id, "--format", "json")
		return code == 0 && json.Unmarshal([]byte(out), &r) == nil && len(r.Hosts) == n
	})
	return r
}

// TestFleetInsightsEndToEnd is issue 14's "done when": three agents, one
// wrapping a server slower on attention, make a fleet capture; `fleetprof
// fleet` flags that host alone with the component and ops that make it
// slow, and the UI's fleet page shows it. After a baseline, a slower capture
// of one agent is a regression in `fleetprof regressions`, the Prometheus
// metrics and at a loopback webhook; the same capture repeated is not.
func TestFleetInsightsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a collector and three agents")
	}
	ctx := deadline(t, 4*time.Minute)
	var mu sync.Mutex
	var posts []insightChange
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var c insightChange
		if json.Unmarshal(b, &c) == nil {
			mu.Lock()
			posts = append(posts, c)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	c := newCollector(ctx, t, "", "--alert-webhook", hook.URL+"/alerts")
	agents := map[string]*agent{}
	for _, id := range []string{"ins-a", "ins-b", "ins-c"} {
		o := agentOpts{labels: []string{"model=qwen3", "fleet=insight"}}
		if id == "ins-c" {
			o.server = []string{"--slowdown", "attention=1.4"}
		}
		agents[id] = newAgent(ctx, t, c, id, o)
	}

	// 1. The fleet report flags ins-c, and only it.
	res, errOut, code := fleetCapture(ctx, t, c, "fleet=insight")
	if code != 0 || !res.Done || len(res.Agents) != 3 {
		t.Fatalf("fleet capture: exit %d, %+v\n%s", code, res, errOut)
	}
	rep := waitFleet(ctx, t, c, res.FleetID, 3)
	if rep.Per != "request" {
		t.Errorf("per = %q, want request (the workload's 2 requests)", rep.Per)
	}
	metrics := map[string]bool{}
	for _, o := range rep.Outliers {
		if o.AgentID != "ins-c" {
			t.Errorf("outlier %s on %s (%v vs %v), want ins-c alone", o.AgentID, o.Metric, o.Value, o.Median)
			continue
		}
		metrics[o.Metric] = true
		if strings.HasPrefix(o.Metric, "component:") || o.Metric == "device_op_us" {
			if len(o.Ops) == 0 || !strings.Contains(strings.ToLower(o.Ops[0].Operation), "attention") || o.Ops[0].Delta <= 0 {
				t.Errorf("outlier %s explained by %+v, want an attention op first", o.Metric, o.Ops)
			}
		}
	}
	component := false
	for m := range metrics {
		component = component || strings.HasPrefix(m, "component:")
	}
	if !metrics["device_op_us"] || !component {
		t.Errorf("ins-c flagged on %v, want the device op time and a component", metrics)
	}
	page := httpGet(ctx, t, "http://"+c.http+"/fleets/"+res.FleetID)
	for _, want := range []string{`<a href="/agents/ins-c">ins-c</a> <span class="badge bad">outlier</span>`, "Outliers", "<svg"} {
		if !strings.Contains(page, want) {
			t.Errorf("the UI's fleet page lacks %q", want)
		}
	}
	if table := mustCLI(ctx, t, c, "fleet", res.FleetID); !strings.Contains(table, "ins-c *") {
		t.Errorf("fleet table does not mark ins-c:\n%s", table)
	}

	// 2. The same again: nothing regressed.
	res2, _, code := fleetCapture(ctx, t, c, "fleet=insight")
	if code != 0 {
		t.Fatalf("second fleet capture: exit %d", code)
	}
	waitFleet(ctx, t, c, res2.FleetID, 3)
	if out := mustCLI(ctx, t, c, "regressions", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("regressions after an unchanged capture = %s, want []", out)
	}

	// 3. ins-a's server restarted slower: a regression of ins-a alone.
	a := agents["ins-a"]
	_ = a.p.cmd.Process.Signal(os.Interrupt)
	if !a.p.wait(10 * time.Second) {
		t.Fatal("ins-a did not stop")
	}
	killStray(a.port)
	a.args = append(a.args, "--slowdown", "attention=1.5")
	a.start(ctx, t, c)
	res3, _, code := fleetCapture(ctx, t, c, "fleet=insight")
	if code != 0 {
		t.Fatalf("third fleet capture: exit %d", code)
	}
	waitFleet(ctx, t, c, res3.FleetID, 3)
	var rows []insightChange
	if err := json.Unmarshal([]byte(mustCLI(ctx, t, c, "regressions", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	var device *insightChange
	for i, r := range rows {
		if r.AgentID != "ins-a" || r.Direction != "regression" || len(r.Baseline) != 2 {
			t.Errorf("regression %+v, want ins-a against its 2 earlier captures", r)
		}
		if r.Metric == "device_op_us" {
			device = &rows[i]
		}
	}
	if device == nil {
		t.Fatalf("no device_op_us regression in %+v", rows)
	}
	if device.ChangePct <= 10 || len(device.Ops) == 0 || !strings.Contains(strings.ToLower(device.Ops[0].Operation), "attention") {
		t.Errorf("device op regression %+v, want > 10 %% explained by an attention op", device)
	}
	if got := c.metric(`fleetprof_regressions_total{metric="device_op_us"}`); got != "1" {
		t.Errorf(`fleetprof_regressions_total{metric="device_op_us"} = %q, want 1`, got)
	}
	if page := httpGet(ctx, t, "http://"+c.http+"/metrics"); !strings.Contains(page, `fleetprof_capture_device_op_us_per_request{agent="ins-a"`) {
		t.Error("no per-request gauge for ins-a in /metrics")
	}
	waitFor(ctx, t, "the webhook to receive every regression", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posts) == len(rows)
	})
	mu.Lock()
	for _, p := range posts {
		if p.AgentID != "ins-a" || p.Direction != "regression" {
			t.Errorf("webhook post %+v", p)
		}
	}
	mu.Unlock()
	page = httpGet(ctx, t, "http://"+c.http+"/regressions")
	if !strings.Contains(page, `href="/agents/ins-a"`) {
		t.Error("the UI's regressions page does not list ins-a")
	}
	if page := httpGet(ctx, t, "http://"+c.http+"/agents/ins-a"); !strings.Contains(page, "<polyline") {
		t.Error("the UI's agent page has no trend chart")
	}
}

// httpGet fetches a page of the collector's web UI (development mode: no
// token), failing the test unless it answers 200.
func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%.500s", url, resp.Status, b)
	}
	return string(b)
}
