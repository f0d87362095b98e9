package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func TestExperimentPages(t *testing.T) {
	tu := newTestUI(t, nil)
	ctx := context.Background()
	spec, _ := proto.Marshal(&collectorv1.ExperimentSpec{Name: hostile, Selector: "model=qwen3",
		Vary: []*collectorv1.Parameter{{Name: "input_len", Values: []int64{128, 512}}}})
	e := &store.Experiment{ID: "x-1", Spec: spec, Status: store.ExperimentDone, Message: "2 of 2 cells captured", CreatedNS: time.Now().UnixNano(),
		Cells: []store.ExperimentCell{
			{Params: map[string]int64{"input_len": 128}, Endpoint: "/v1/score", CaptureIDs: []string{"cap-a"}, Status: store.ExperimentDone},
			{Params: map[string]int64{"input_len": 512}, Endpoint: "/v1/score", CaptureIDs: []string{"cap-b"}, Status: store.ExperimentDone},
		}}
	if err := tu.db.Update(ctx, func(w *store.Writer) error { return w.PutExperiment(e) }); err != nil {
		t.Fatal(err)
	}
	runner := experiment.New(experiment.Config{Store: tu.db})
	ui, err := New(Config{Store: tu.db, Agents: fakeAgents{}, Schedules: tu.list, Experiments: runner, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/experiments", 200, []string{`href="/experiments/x-1"`, "input_len", "2 of 2 cells captured", `aria-current="page">Experiments`}},
		{"/experiments/x-1", 200, []string{"Cells and their captures", `href="/captures/cap-a"`, "Cells (µs per request)", "1 capture(s) have no report yet"}},
		{"/experiments/x-none", 404, []string{"No experiment has the id"}},
		{"/experiments/..%2fx", 404, []string{"No experiment has that id"}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		body := rec.Body.String()
		if rec.Code != tt.status {
			t.Errorf("GET %s: %d, want %d", tt.path, rec.Code, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tt.path, w)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("GET %s: a name reached the page unescaped", tt.path)
		}
	}
	// Without Experiments the pages are not served.
	if rec := httptest.NewRecorder(); func() int { tu.mux.ServeHTTP(rec, httptest.NewRequest("GET", "/experiments", nil)); return rec.Code }() != 404 {
		t.Errorf("GET /experiments without Experiments: %d, want 404", rec.Code)
	}
}
