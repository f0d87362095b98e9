package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// insightUI is a UI with a real watch over a store holding fleet capture
// f1 (tpu-1, tpu-2, tpu-3; tpu-3 slower), and a later, slower capture of
// tpu-1 made by schedule "nightly" (a regression).
type insightUI struct {
	mux      *http.ServeMux
	schedule string
}

func newInsightUI(t *testing.T) *insightUI {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	agents := fakeAgents{{ID: "tpu-1", Host: "host-1", Connected: true}}
	list := sched.New(sched.Config{Store: db, Agents: agents, Starter: noStarter{}})
	sc, err := list.Add(ctx, store.Schedule{Name: "nightly", Spec: "@daily", Selector: "model=qwen3"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(watch.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	put := func(id, agent, host, fleet, schedule string, at time.Time, attnUS int64) {
		us := capture.Microsecond
		cp := capturetest.Capture(at.UnixNano(),
			capturetest.Op{TFOp: "jit(run)/attention/pallas_call:pallas_call", Start: 0, Dur: attnUS * us},
			capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: attnUS * us, Dur: 100 * us})
		data, sum := capturetest.Fpcap(cp)
		js, _ := json.Marshal(capture.Summarize(cp))
		err := db.Update(ctx, func(wr *store.Writer) error {
			if err := wr.PutAgent(&store.Agent{ID: agent, Host: host, Labels: map[string]string{"model": "qwen3"}, AgentVersion: "1.0"}); err != nil {
				return err
			}
			if _, err := wr.BeginUpload(&store.Upload{CaptureID: id, AgentID: agent, Bytes: int64(len(data)), SHA256: sum}); err != nil {
				return err
			}
			if _, err := wr.StageChunk(id, 0, 0, data); err != nil {
				return err
			}
			return wr.Commit(&store.Capture{
				ID: id, AgentID: agent, Host: host, FleetID: fleet, ScheduleID: schedule, Trigger: "fleet", CreatedNS: at.UnixNano(),
				SizeBytes: int64(len(data)), SHA256: sum, Labels: map[string]string{"model": "qwen3"}, Summary: js,
				Context: map[string]string{"requests./v1/score": "3 (1 warmup + 2 profiled)"},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		// The report the built-in analyzers would make.
		rep, _ := json.Marshal(map[string]any{"summary": capture.Summarize(cp), "sections": []*sdk.Section{
			{Name: "top_ops", Rows: []sdk.Row{
				{"type": "pallas_call", "operation": "jit(run)/attention/pallas_call", "occurrences": int64(1), "total_us": float64(attnUS)},
				{"type": "dot_general", "operation": "jit(run)/mlp/dot_general", "occurrences": int64(1), "total_us": 100.0},
			}},
			{Name: "components", Rows: []sdk.Row{{"component": "attention", "total_us": float64(attnUS)}, {"component": "mlp", "total_us": 100.0}}},
		}})
		err = db.Update(ctx, func(wr *store.Writer) error {
			if err := wr.PutReport(id, rep); err != nil {
				return err
			}
			return wr.SetStatus(id, store.StatusAnalyzed, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Analyzed(ctx, id)
	}
	put("f1.tpu-1", "tpu-1", "host-1", "f1", sc.ID, base, 100)
	put("f1.tpu-2", "tpu-2", "host-2", "f1", sc.ID, base.Add(time.Millisecond), 100)
	put("f1.tpu-3", "tpu-3", hostile, "f1", sc.ID, base.Add(2*time.Millisecond), 200)
	put("f2.tpu-1", "tpu-1", "host-1", "f2", sc.ID, base.Add(time.Minute), 160)
	ui, err := New(Config{Store: db, Agents: agents, Schedules: list, Insights: w, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	iu := &insightUI{mux: http.NewServeMux(), schedule: sc.ID}
	ui.Register(iu.mux)
	return iu
}

func TestInsightPages(t *testing.T) {
	iu := newInsightUI(t)
	tests := []struct {
		path   string
		status int
		want   []string
		avoid  []string
	}{
		{"/fleets/f1", http.StatusOK, []string{
			"Outliers", `<td class="up"><a href="/agents/tpu-3">tpu-3</a></td>`, "device_op_us", "1.50×", "jit(run)/attention/pallas_call",
			"<svg", "(outlier)", "µs per request", `href="/captures/f1.tpu-2"`, "&lt;script&gt;",
		}, []string{"<script>", `<td class="up"><a href="/agents/tpu-1">`}},
		{"/fleets/f2", http.StatusOK, []string{"1 host(s): nothing to compare"}, []string{"Outliers"}},
		{"/fleets/nope", http.StatusNotFound, []string{"No analyzed capture of fleet capture nope"}, nil},
		{"/fleets/..%2fx", http.StatusNotFound, nil, nil},
		{"/regressions", http.StatusOK, []string{`href="/captures/f2.tpu-1"`, "device_op_us", "&#43;30.0%", "regression", `href="/captures/f1.tpu-1"`}, nil},
		{"/regressions?since=1m", http.StatusOK, []string{"No regressions."}, nil},
		{"/regressions?selector=model%3Dllama", http.StatusOK, []string{"No regressions."}, nil},
		{"/regressions?since=yesterday", http.StatusBadRequest, []string{"since"}, nil},
		{"/regressions?selector=%3D%3D", http.StatusBadRequest, []string{"selector"}, nil},
		{"/agents/tpu-1", http.StatusOK, []string{"host-1", "<polyline", `href="/captures/f2.tpu-1"`, "130.000", "100.000", "regression"}, nil},
		{"/agents/tpu-1?metric=idle_pct&since=30d", http.StatusOK, []string{"idle_pct (%)"}, nil},
		{"/agents/tpu-1?metric=span", http.StatusBadRequest, []string{"metric"}, nil},
		{"/agents/tpu-1?metric=component:attention", http.StatusOK, []string{"component:attention (µs per request)", "80.000"}, nil},
		{"/agents/tpu-1?since=soon", http.StatusBadRequest, []string{"since"}, nil},
		{"/agents/nope", http.StatusNotFound, []string{"No agent nope"}, nil},
		{"/schedules/" + iu.schedule, http.StatusOK, []string{"nightly", "<polyline", "fleet median", `href="/fleets/f1"`, `href="/fleets/f2"`}, nil},
		{"/schedules/nope", http.StatusNotFound, nil, nil},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.path, nil)
		rec := httptest.NewRecorder()
		iu.mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != tt.status {
			t.Errorf("GET %s: status %d, want %d\n%s", tt.path, rec.Code, tt.status, excerpt(body))
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body lacks %q", tt.path, w)
			}
		}
		for _, a := range tt.avoid {
			if strings.Contains(body, a) {
				t.Errorf("GET %s: body holds %q", tt.path, a)
			}
		}
	}
}

// excerpt is the start of a page's main content, for failure messages.
func excerpt(body string) string {
	if i := strings.Index(body, "<main>"); i >= 0 {
		body = body[i:]
	}
	return fmt.Sprintf("%.600s", body)
}

func TestInsightPagesOff(t *testing.T) {
	tu := newTestUI(t, nil)
	resp, _ := tu.get(t, "/regressions")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /regressions without insights: %d, want 404", resp.StatusCode)
	}
}
