package experiment

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// model is the per-sequence device time of a cell, by component (µs):
// attention 0.001·L², matmul 0.5·L, fixed 300 per request.
func model(l float64) map[string]float64 {
	return map[string]float64{"attention": 0.001 * l * l, "matmul": 0.5 * l, "control_flow": 300}
}

// fakeReport is a capture's report for n requests each of b sequences of
// length l: requests, components and top_ops sections.
func fakeReport(n int, b, l float64, withRequests bool) *report.Report {
	m := model(l)
	per := (m["attention"]+m["matmul"])*b + m["control_flow"]
	r := &report.Report{}
	if withRequests {
		req := &sdk.Section{Name: "requests"}
		for i := range n {
			req.Rows = append(req.Rows, sdk.Row{"request": fmt.Sprintf("r%d", i+1), "device_busy_ms": per / 1000})
		}
		r.Sections = append(r.Sections, req)
	}
	comp := &sdk.Section{Name: "components"}
	for _, k := range []string{"attention", "matmul", "control_flow"} {
		v := m[k] * float64(n)
		if k != "control_flow" {
			v *= b
		}
		comp.Rows = append(comp.Rows, sdk.Row{"component": k, "total_us": v})
	}
	ops := &sdk.Section{Name: "top_ops", Rows: []sdk.Row{
		{"operation": "jit(f)/FlashAttention/pallas_call", "total_us": m["attention"] * b * float64(n)},
		{"operation": "while.6", "total_us": m["control_flow"] * float64(n)},
	}}
	r.Sections = append(r.Sections, comp, ops, &sdk.Section{Name: "idle", Error: "crashed"})
	return r
}

// fixture is a stored experiment over input_len 128, 512, 2048 and batch
// 1, 4 on both endpoints, each cell captured on two agents, and its
// captures' reports. Generate cells send batch requests of one sequence;
// score cells one request of batch sequences.
func fixture(t *testing.T) (*store.Experiment, map[string]*report.Report) {
	t.Helper()
	s := spec(func(s *collectorv1.ExperimentSpec) {
		s.Endpoints = []string{EndpointScore, EndpointGenerate}
		s.Name = "scaling"
	})
	cells, err := Validate(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := proto.Marshal(s)
	e := &store.Experiment{ID: "x-1", Spec: raw, Status: store.ExperimentDone, Message: "12 of 12 cells captured"}
	reps := map[string]*report.Report{}
	for i, c := range cells {
		w, _ := proto.Marshal(c.Workload)
		sc := store.ExperimentCell{Params: c.Params, Endpoint: c.Endpoint, Workload: w, Status: store.ExperimentDone}
		for a := range 2 {
			id := fmt.Sprintf("cap-%d-%d", i, a)
			sc.CaptureIDs = append(sc.CaptureIDs, id)
			l, b := float64(c.Params[ParamInputLen]), float64(c.Params[ParamBatch])
			if c.Endpoint == EndpointGenerate {
				reps[id] = fakeReport(int(b), 1, l, true)
			} else {
				reps[id] = fakeReport(1, b, l, true)
			}
		}
		e.Cells = append(e.Cells, sc)
	}
	return e, reps
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestCompute(t *testing.T) {
	e, reps := fixture(t)
	r, err := Compute(e, reps)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Params, []string{ParamInputLen, ParamBatch}) || !slices.Equal(r.Endpoints, []string{EndpointScore, EndpointGenerate}) {
		t.Errorf("params %v endpoints %v", r.Params, r.Endpoints)
	}
	if want := []string{"attention", "matmul", "control_flow"}; !slices.Equal(r.Components, want) {
		t.Errorf("components = %v, want %v (most time first)", r.Components, want)
	}
	// Score, input_len 2048, batch 4: one request of 4 sequences per capture.
	c := r.Cells[5]
	if c.Endpoint != EndpointScore || c.Params[ParamInputLen] != 2048 || c.Params[ParamBatch] != 4 || c.Requests != 2 {
		t.Fatalf("cell 5 = %+v", c)
	}
	m := model(2048)
	if want := 4*(m["attention"]+m["matmul"]) + 300; !close(c.DeviceUSPerRequest, want) {
		t.Errorf("score device µs/request = %v, want %v", c.DeviceUSPerRequest, want)
	}
	if !close(c.Components["attention"], 4*m["attention"]) || !close(c.Ops["jit(f)/FlashAttention/pallas_call"], 4*m["attention"]) {
		t.Errorf("score components %v ops %v", c.Components, c.Ops)
	}
	// Generate, input_len 2048, batch 4: 4 requests of one sequence.
	c = r.Cells[11]
	if c.Endpoint != EndpointGenerate || c.Requests != 8 || !close(c.DeviceUSPerRequest, m["attention"]+m["matmul"]+300) {
		t.Errorf("generate cell = %+v", c)
	}

	find := func(ep, param, metric string, fixed int64) FitRow {
		t.Helper()
		for _, f := range r.FitsFor(ep, param, metric) {
			for _, v := range f.Fixed {
				if v == fixed {
					return f
				}
			}
		}
		t.Fatalf("no fit of %s against %s on %s at %d", metric, param, ep, fixed)
		return FitRow{}
	}
	tests := []struct {
		ep, param, metric string
		fixed             int64
		exponent          float64
		slope, intercept  float64
	}{
		{EndpointScore, ParamInputLen, "component:attention", 1, 2, math.NaN(), math.NaN()},
		{EndpointScore, ParamInputLen, "component:attention", 4, 2, math.NaN(), math.NaN()},
		{EndpointScore, ParamInputLen, "component:matmul", 4, 1, 2, 0},
		{EndpointScore, ParamBatch, "component:matmul", 512, 1, 256, 0},
		{EndpointScore, ParamInputLen, "component:control_flow", 1, 0, 0, 300},
		{EndpointGenerate, ParamBatch, "component:attention", 2048, 0, 0, m["attention"]},
		{EndpointScore, ParamInputLen, "op:jit(f)/FlashAttention/pallas_call", 1, 2, math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		f := find(tt.ep, tt.param, tt.metric, tt.fixed)
		if !close(f.Exponent, tt.exponent) || f.R2Log < 0.999999 && tt.exponent != 0 {
			t.Errorf("%s %s against %s at %d: exponent %v (r2 %v), want %v", tt.ep, tt.metric, tt.param, tt.fixed, f.Exponent, f.R2Log, tt.exponent)
		}
		if !math.IsNaN(tt.slope) && (!close(f.Slope, tt.slope) || !close(f.Intercept, tt.intercept) || !close(f.R2, 1)) {
			t.Errorf("%s %s against %s at %d: line %v + %v·x (r2 %v), want %v + %v·x", tt.ep, tt.metric, tt.param, tt.fixed, f.Intercept, f.Slope, f.R2, tt.intercept, tt.slope)
		}
	}
	// 2 endpoints × (input_len at 2 batches + batch at 3 lengths) × (device + 3 components + 2 ops).
	if len(r.Fits) != 2*(2+3)*6 {
		t.Errorf("%d fits, want %d", len(r.Fits), 2*(2+3)*6)
	}
}

// TestComputePending: a capture without a report is pending; a capture
// without a requests section counts its workload's requests.
func TestComputePending(t *testing.T) {
	e, reps := fixture(t)
	delete(reps, "cap-0-1")
	reps["cap-1-0"] = fakeReport(1, 4, 128, false)
	r, err := Compute(e, reps)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Cells[0]; c.Requests != 1 || !slices.Equal(c.PendingAnalysis, []string{"cap-0-1"}) {
		t.Errorf("cell 0: %d requests, pending %v; want 1 and [cap-0-1]", c.Requests, c.PendingAnalysis)
	}
	m := model(128)
	if c := r.Cells[1]; c.Requests != 2 || !close(c.DeviceUSPerRequest, 4*(m["attention"]+m["matmul"])+300) {
		t.Errorf("cell 1: %d requests, %v µs; want 2 and the op time per request", c.Requests, c.DeviceUSPerRequest)
	}
	if !strings.Contains(strings.Join(r.Notes, " "), "1 capture(s) have no report yet") {
		t.Errorf("notes = %q", r.Notes)
	}
	e.Spec = []byte{0xff}
	if _, err := Compute(e, reps); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Compute with a bad spec = %v, want ErrCorrupt", err)
	}
}

func TestRender(t *testing.T) {
	e, reps := fixture(t)
	r, err := Compute(e, reps)
	if err != nil {
		t.Fatal(err)
	}
	js, err := Render(r, "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ExperimentID string `json:"experiment_id"`
		Cells        []struct {
			Params             map[string]int64   `json:"params"`
			Endpoint           string             `json:"endpoint"`
			CaptureIDs         []string           `json:"capture_ids"`
			DeviceUSPerRequest float64            `json:"device_us_per_request"`
			Components         map[string]float64 `json:"components"`
			Ops                map[string]float64 `json:"ops"`
		} `json:"cells"`
		Fits []map[string]any `json:"fits"`
	}
	if err := json.Unmarshal(js[0].Data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ExperimentID != "x-1" || len(doc.Cells) != 12 || len(doc.Cells[0].CaptureIDs) != 2 || doc.Cells[0].Components["attention"] == 0 {
		t.Errorf("JSON = %+v", doc)
	}
	for _, k := range []string{"param", "metric", "slope", "intercept", "exponent", "r2"} {
		if _, ok := doc.Fits[0][k]; !ok {
			t.Errorf("fit lacks %q: %v", k, doc.Fits[0])
		}
	}

	md, err := Render(r, "md")
	if err != nil {
		t.Fatal(err)
	}
	// The Markdown, then a chart per endpoint and batch.
	var names []string
	for _, f := range md {
		names = append(names, f.Name)
	}
	want := []string{"experiment.md", "images/score-batch-1.svg", "images/score-batch-4.svg", "images/generate-batch-1.svg", "images/generate-batch-4.svg"}
	if !slices.Equal(names, want) {
		t.Errorf("md files = %v, want %v", names, want)
	}
	for _, f := range md[1:] {
		if err := xml.Unmarshal(f.Data, new(struct{})); err != nil {
			t.Errorf("%s is not well-formed: %v", f.Name, err)
		}
		if !bytes.Contains(f.Data, []byte("<polyline")) || !bytes.Contains(f.Data, []byte("attention")) {
			t.Errorf("%s draws no attention line", f.Name)
		}
	}
	text := string(md[0].Data)
	for _, s := range []string{"# Experiment x-1 (scaling): done", "| /v1/score | 2048 | 4 | 2 | 2 |", "## Endpoints side by side", "| 128 | 1 | attention |", "![/v1/score: device time per request against input_len (batch=1)](images/score-batch-1.svg)"} {
		if !strings.Contains(text, s) {
			t.Errorf("Markdown lacks %q", s)
		}
	}
	h, err := Render(r, "html")
	if err != nil || !bytes.Contains(h[0].Data, []byte("<svg")) || h[0].Name != HTMLName {
		t.Errorf("HTML: %v", err)
	}
	var tb bytes.Buffer
	Table(&tb, r)
	for _, s := range []string{"Experiment x-1 (scaling): done, 12 of 12 cells captured", "endpoint   input_len  batch", "/generate / /v1/score", "component:attention"} {
		if !strings.Contains(tb.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tb.String())
		}
	}
	if _, err := Render(r, "pdf"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Render(pdf) = %v, want ErrUnknownFormat", err)
	}
}

func TestChartEmpty(t *testing.T) {
	svg := Chart{Title: "t", Param: ParamInputLen, Series: []Series{{Name: "device (total)", Points: [][2]float64{{128, 0}}}}}.SVG()
	if err := xml.Unmarshal(svg, new(struct{})); err != nil || !bytes.Contains(svg, []byte("no cell has requests yet")) {
		t.Errorf("empty chart: %v\n%s", err, svg)
	}
}
