package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// benchComponents are the components of a benchmark summary (a fixture:
// the names do not matter).
var benchComponents = []string{"attention", "matmul", "control_flow", "reduction", "normalization", "data_movement", "elementwise", "other"}

// benchSummary is a summary shaped like a real one: 8 components and the
// 20 top ops with long framework op names; host i's times vary by a few
// per cent, and every 50th host is 40 % slower on attention.
func benchSummary(id, agent, fleet string, at int64, i int) insight.Summary {
	slow := 1.0 + float64(i%7)*0.005
	if i%50 == 49 {
		slow = 1.4
	}
	s := insight.Summary{
		SchemaVersion: insight.SchemaVersion, CaptureID: id, AgentID: agent, Host: agent + ".example", Trigger: "schedule",
		FleetID: fleet, ScheduleID: "nightly", CommittedNS: at, Committed: time.Unix(0, at).UTC().Format(insight.TimeLayout),
		Status: store.StatusAnalyzed, Labels: []insight.Pair{{Key: "model", Value: "qwen3"}, {Key: "zone", Value: fmt.Sprintf("z%d", i%4)}},
		Options: insight.Options{Endpoint: "/v1/score", BodySHA256: "ab", DurationMS: 2000, Requests: 2}, Requests: 2, Per: insight.PerRequest,
		SpanUS: 2e6, Devices: 1, DeviceBusyUS: 3000, IdlePct: 99.85, HasComponents: true, OpsComplete: false,
	}
	s.BaselineKey = s.Options.Key()
	for j, c := range benchComponents {
		v := float64(600-60*j) * slow
		if c != "attention" {
			v = float64(600-60*j) * (1 + float64(i%7)*0.005)
		}
		s.Components = append(s.Components, insight.Figure{Name: c, US: v})
		s.DeviceOpUS += v
	}
	for j := range insight.TopOps {
		v := float64(450-20*j) * slow
		s.Ops = append(s.Ops, insight.OpFigure{
			Operation: fmt.Sprintf("jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/op_%02d", j),
			Type:      "pallas_call", US: v, Occurrences: 28,
		})
	}
	perReq, perSec := s.DeviceOpUS/2, s.DeviceOpUS/2
	s.DeviceOpUSPerRequest, s.DeviceOpUSPerSecond = &perReq, &perSec
	return s
}

// benchStore commits captures and stores their summaries: agents × runs
// captures, run r of every agent in fleet capture "f<r>".
func benchStore(b *testing.B, agents, runs int) *store.DB {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(filepath.Join(b.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range runs {
		for from := 0; from < agents; from += 500 {
			err := db.Update(ctx, func(w *store.Writer) error {
				for i := from; i < min(from+500, agents); i++ {
					id, agent, fleet := fmt.Sprintf("f%d.a%04d", r, i), fmt.Sprintf("a%04d", i), fmt.Sprintf("f%d", r)
					at := base.Add(time.Duration(r)*time.Hour + time.Duration(i)*time.Millisecond).UnixNano()
					data := []byte("x")
					if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: agent, Bytes: 1, SHA256: []byte{1}}); err != nil {
						return err
					}
					if _, err := w.StageChunk(id, 0, 0, data); err != nil {
						return err
					}
					if err := w.Commit(&store.Capture{ID: id, AgentID: agent, FleetID: fleet, CreatedNS: at, SizeBytes: 1,
						Status: store.StatusAnalyzed, Labels: map[string]string{"model": "qwen3"}}); err != nil {
						return err
					}
					sum := benchSummary(id, agent, fleet, at, i)
					js, err := sum.AppendBinary(nil)
					if err != nil {
						return err
					}
					if err := w.PutSummary(id, js); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return db
}

// BenchmarkFleetReport2000 is `fleetprof fleet` on a fleet capture of 2,000
// hosts: read their stored summaries and build the report.
func BenchmarkFleetReport2000(b *testing.B) {
	db := benchStore(b, 2000, 1)
	w, err := New(Config{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r, err := w.Fleet(ctx, "f0")
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Hosts) != 2000 || len(r.Outliers) == 0 {
			b.Fatalf("%d hosts, %d outliers", len(r.Hosts), len(r.Outliers))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2000, "µs/host")
}

// BenchmarkTrend10000 is `fleetprof trend --selector model=qwen3` over
// 10,000 captures (500 agents, 20 fleet captures).
func BenchmarkTrend10000(b *testing.B) {
	db := benchStore(b, 500, 20)
	w, err := New(Config{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	sel, err := selector.Parse("model=qwen3")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, metric := range []string{insight.MetricDeviceOpPerRequest, "component:attention"} {
		b.Run(metric, func(b *testing.B) {
			for b.Loop() {
				t, err := w.Trend(ctx, TrendQuery{Selector: sel, Metric: metric})
				if err != nil {
					b.Fatal(err)
				}
				if len(t.Series) != 500 || len(t.Median) != 20 {
					b.Fatalf("%d series, %d medians", len(t.Series), len(t.Median))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/10000, "µs/capture")
		})
	}
}

// BenchmarkBuildFleet2000 is BuildFleet alone on 2,000 decoded summaries.
func BenchmarkBuildFleet2000(b *testing.B) {
	sums := make([]insight.Summary, 2000)
	for i := range sums {
		sums[i] = benchSummary(fmt.Sprintf("f0.a%04d", i), fmt.Sprintf("a%04d", i), "f0", int64(i), i)
	}
	for b.Loop() {
		insight.BuildFleet("f0", sums, insight.Rule{})
	}
}
