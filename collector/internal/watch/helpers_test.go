package watch

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cap describes a stored, analyzed capture for tests.
type cap struct {
	id, agent, fleet, schedule string
	at                         int64 // commit time, ns
	labels                     map[string]string
	body                       string // workload body; "" for no workload
	durationMS                 int64
	requests                   int   // profiled requests in the context
	spanUS                     int64 // default 1 s
	comps                      map[string]float64
	ops                        map[string]float64 // their sum is the device op time
	noReport                   bool
}

// put commits c and stores its report, as ingest and analysis would.
func put(t *testing.T, db *store.DB, c cap) {
	t.Helper()
	ctx := context.Background()
	data := []byte("fpcap-" + c.id)
	sum := sha256.Sum256(data)
	opts := &agentv1.CaptureOptions{DurationMs: c.durationMS}
	ctxm := map[string]string{}
	if c.body != "" {
		opts.Workload = &agentv1.Workload{Endpoint: "/v1/score", Body: []byte(c.body), Requests: int32(c.requests), Warmups: 1}
		ctxm["requests./v1/score"] = fmt.Sprintf("%d (1 warmup + %d profiled)", c.requests+1, c.requests)
	}
	ob, err := proto.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	labels := c.labels
	if labels == nil {
		labels = map[string]string{"model": "qwen3"}
	}
	err = db.Update(ctx, func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: c.id, AgentID: c.agent, Bytes: int64(len(data)), SHA256: sum[:]}); err != nil {
			return err
		}
		if _, err := w.StageChunk(c.id, 0, 0, data); err != nil {
			return err
		}
		trigger := "manual"
		if c.fleet != "" {
			trigger = "fleet"
		}
		return w.Commit(&store.Capture{
			ID: c.id, AgentID: c.agent, Host: c.agent + ".example", Labels: labels, Trigger: trigger, FleetID: c.fleet,
			ScheduleID: c.schedule, CreatedNS: c.at, SizeBytes: int64(len(data)), Options: ob, Context: ctxm,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.noReport {
		return
	}
	span := c.spanUS
	if span == 0 {
		span = 1_000_000
	}
	var total float64
	var topRows, compRows []sdk.Row
	for n, v := range c.ops {
		total += v
		topRows = append(topRows, sdk.Row{"type": "t", "operation": n, "occurrences": int64(1), "total_us": v})
	}
	for n, v := range c.comps {
		compRows = append(compRows, sdk.Row{"component": n, "total_us": v})
	}
	rep := struct {
		Summary    capture.Summary `json:"summary"`
		Sections   []*sdk.Section  `json:"sections"`
		AnalyzedNS int64           `json:"analyzed_ns"`
	}{
		Summary: capture.Summary{
			SpanUS: capture.Micros{US: span}, NonIdleOpUS: capture.Micros{US: int64(total)},
			Devices:     map[string]capture.DeviceSummary{"/device:TPU:0": {BusyUS: capture.Micros{US: int64(total)}, IdlePct: 99}},
			DeviceOrder: []string{"/device:TPU:0"},
		},
		Sections: []*sdk.Section{{Name: "top_ops", Rows: topRows}},
	}
	if c.comps != nil {
		rep.Sections = append(rep.Sections, &sdk.Section{Name: "components", Rows: compRows})
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(w *store.Writer) error {
		if err := w.PutReport(c.id, b); err != nil {
			return err
		}
		return w.SetStatus(c.id, store.StatusAnalyzed, "")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// std is a capture of agent with the standard shape: 2 requests of body
// "b", attention 200 µs (attn 200) scaled by slow, mlp 200 µs (mlp 200).
func std(id, agent string, at int64, slow float64) cap {
	return cap{
		id: id, agent: agent, at: at, body: "b", durationMS: 2000, requests: 2,
		comps: map[string]float64{"attention": 200 * slow, "mlp": 200},
		ops:   map[string]float64{"attn": 200 * slow, "mlp": 200},
	}
}
