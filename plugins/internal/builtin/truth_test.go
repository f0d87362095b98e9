package builtin_test

import (
	"fmt"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/components"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/hostevents"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/idle"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/optypes"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/topops"
	"github.com/fleetprof/fleetprof/plugins/sdk"
)

// checker compares one row field with truth and reports a mismatch.
type checker struct {
	t    *testing.T
	what string
	bad  int
}

func (c *checker) errorf(format string, args ...any) {
	c.t.Helper()
	c.bad++
	if c.bad <= 20 {
		c.t.Errorf(c.what+": "+format, args...)
	}
}

func (c *checker) str(i int, r sdk.Row, key, want string) {
	c.t.Helper()
	if got, _ := r[key].(string); got != want {
		c.errorf("row %d %s = %q, want %q", i, key, got, want)
	}
}

func (c *checker) count(i int, r sdk.Row, key string, want int64) {
	c.t.Helper()
	if got, _ := r[key].(int64); got != want {
		c.errorf("row %d %s = %d, want %d", i, key, got, want)
	}
}

func (c *checker) num(i int, r sdk.Row, key string, want, tol float64) {
	c.t.Helper()
	got, ok := r[key].(float64)
	if !ok || !Near(got, want, tol) {
		c.errorf("row %d %s = %v, want %v ± %g", i, key, r[key], want, tol)
	}
}

func (c *checker) rows(s *sdk.Section, want int, full bool) {
	c.t.Helper()
	if full && len(s.Rows) != want || len(s.Rows) < want {
		c.errorf("%d rows, want %d", len(s.Rows), want)
	}
}

// TestTruth runs every built-in analyzer on every fixture file, directly,
// over the plugin protocol and as its real plugin process, and compares every
// row with the fixture's truth.json: counts exact, times within 0.001 µs,
// percentages within 1e-6.
func TestTruth(t *testing.T) {
	for _, f := range Fixtures {
		for _, rn := range runners {
			t.Run(f.Name+"/"+rn.name, func(t *testing.T) {
				truth(t, f, rn)
			})
		}
	}
}

func truth(t *testing.T, f Fixture, rn runner) {
	c := Load(t, f)
	tr := LoadTruth(t, f)
	tol, pct := TimeTol, PctTol
	analyze := func(a sdk.Analyzer) *sdk.Section { return rn.run(t, a, c, nil) }
	s := analyze(topops.Analyzer{})
	ck := &checker{t: t, what: "top_ops"}
	ck.rows(s, len(tr.TopOps), true)
	for i, w := range tr.TopOps[:min(len(tr.TopOps), len(s.Rows))] {
		r := s.Rows[i]
		ck.str(i, r, "type", w.Type)
		ck.str(i, r, "operation", w.Operation)
		ck.count(i, r, "occurrences", w.Occurrences)
		ck.num(i, r, "total_us", w.TotalUS, tol)
		ck.num(i, r, "avg_us", w.TotalUS/float64(w.Occurrences), tol)
		ck.num(i, r, "pct", w.Pct, pct)
	}
	if got := metric(s, "device_op_events"); got != float64(tr.DeviceOpEvents) {
		t.Errorf("top_ops device_op_events = %v, want %d", got, tr.DeviceOpEvents)
	}

	s = analyze(optypes.Analyzer{})
	ck = &checker{t: t, what: "op_types"}
	ck.rows(s, len(tr.OpTypes), true)
	for i, w := range tr.OpTypes[:min(len(tr.OpTypes), len(s.Rows))] {
		r := s.Rows[i]
		ck.str(i, r, "type", w.Type)
		ck.num(i, r, "total_us", w.TotalUS, tol)
		ck.num(i, r, "pct", w.Pct, pct)
	}

	s = analyze(components.Analyzer{})
	ck = &checker{t: t, what: "components"}
	ck.rows(s, len(tr.Components), true)
	for i, w := range tr.Components[:min(len(tr.Components), len(s.Rows))] {
		r := s.Rows[i]
		ck.str(i, r, "component", w.Component)
		ck.num(i, r, "total_us", w.TotalUS, tol)
		ck.num(i, r, "pct", w.Pct, pct)
	}

	s = analyze(hostevents.Analyzer{})
	ck = &checker{t: t, what: "host_events"}
	ck.rows(s, len(tr.HostEvents), true)
	for i, w := range tr.HostEvents[:min(len(tr.HostEvents), len(s.Rows))] {
		r := s.Rows[i]
		ck.str(i, r, "name", w.Name)
		ck.count(i, r, "count", w.Count)
		ck.num(i, r, "total_us", w.TotalUS, tol)
		ck.num(i, r, "self_us", w.SelfUS, tol)
	}

	s = analyze(idle.Analyzer{})
	ck = &checker{t: t, what: "idle"}
	ck.rows(s, len(tr.Devices), true)
	for i, r := range s.Rows {
		name, _ := r["device"].(string)
		w, ok := tr.Devices[name]
		if !ok {
			ck.errorf("row %d: device %q is not in truth.json", i, name)
			continue
		}
		ck.num(i, r, "span_us", w.SpanUS, tol)
		ck.num(i, r, "busy_us", w.BusyUS, tol)
		ck.num(i, r, "idle_us", w.IdleUS, tol)
		ck.num(i, r, "idle_pct", w.IdlePct, pct)
		ck.count(i, r, "op_events", w.OpEvents)
	}
	if got := metric(s, "windows"); got != float64(len(tr.Windows)) {
		t.Errorf("idle windows = %v, want %d", got, len(tr.Windows))
	}
	if got := metric(s, "span_us"); !Near(got, tr.SpanUS, tol) {
		t.Errorf("idle span_us = %v, want %v", got, tr.SpanUS)
	}
	var spans int
	for _, sp := range s.Charts[0].Spans {
		if sp.Lane == "windows" {
			spans++
		}
	}
	if spans != len(tr.Windows) {
		t.Errorf("idle timeline has %d windows, want %d", spans, len(tr.Windows))
	}
}

func metric(s *sdk.Section, key string) float64 {
	for _, m := range s.Summary {
		if m.Key == key {
			return m.Value
		}
	}
	return -1
}

// TestSeedReport checks the analyzers against the tables the seed report
// printed, to its printed precision: components, op types (top 10) and the
// top 10 device ops; and the corrected idle (99.97 %, not 99.98 %).
func TestSeedReport(t *testing.T) {
	for _, f := range Fixtures {
		if f.Dir != "seed-replica" {
			continue
		}
		for _, rn := range runners {
			t.Run(f.Name+"/"+rn.name, func(t *testing.T) {
				seedReport(t, f, rn)
			})
		}
	}
}

func seedReport(t *testing.T, f Fixture, rn runner) {
	c := Load(t, f)
	report := seedTables(t)
	analyze := func(a sdk.Analyzer) *sdk.Section { return rn.run(t, a, c, nil) }

	s := analyze(components.Analyzer{})
	var got []string
	for _, r := range s.Rows {
		got = append(got, fmt.Sprintf("| %s | %.1f | %.1f%% |", r["component"], r["total_us"], r["pct"]))
	}
	diffLines(t, "components", report["Component breakdown (non‑idle):"], got)

	s = analyze(optypes.Analyzer{})
	got = nil
	for _, r := range s.Rows[:10] {
		got = append(got, fmt.Sprintf("| %s | %.1f | %.1f%% |", r["type"], r["total_us"], r["pct"]))
	}
	diffLines(t, "op types", report["Top op types (non‑idle, top 10):"], got)

	// The seed cut operation names at the first '-' after RPA ... it
	// printed a prefix: compare the operation as a prefix, the rest
	// exactly. Its occurrences were floats ("1.0").
	s = analyze(topops.Analyzer{})
	want := report["Top device ops (non‑idle, top 10):"]
	if len(want) != 10 {
		t.Fatalf("seed top ops table has %d rows, want 10", len(want))
	}
	for i, line := range want {
		r := s.Rows[i]
		var typ, op string
		var occ, total, avg, pct float64
		cells := splitRow(line)
		if len(cells) != 6 {
			t.Fatalf("seed top ops row %q has %d cells", line, len(cells))
		}
		typ, op = cells[0], cells[1]
		fmt.Sscanf(cells[2], "%g", &occ)
		fmt.Sscanf(cells[3], "%g", &total)
		fmt.Sscanf(cells[4], "%g", &avg)
		fmt.Sscanf(cells[5], "%g%%", &pct)
		gotOp, _ := r["operation"].(string)
		if r["type"] != typ || len(gotOp) < len(op) || gotOp[:len(op)] != op {
			t.Errorf("top op %d = %v %q, seed printed %s %q", i, r["type"], gotOp, typ, op)
		}
		if got, want := fmt.Sprintf("%d %.3f %.3f %.2f%%", r["occurrences"], r["total_us"], r["avg_us"], r["pct"]),
			fmt.Sprintf("%d %s %s %s", int64(occ), cells[3], cells[4], cells[5]); got != want {
			t.Errorf("top op %d (%s) = %s, seed printed %s", i, typ, got, want)
		}
	}

	s = analyze(idle.Analyzer{})
	r := s.Rows[0]
	if got := fmt.Sprintf("%.1f %.1f %.2f%%", r["idle_us"], r["busy_us"], r["idle_pct"]); got != "5043650.4 1515.1 99.97%" {
		t.Errorf("idle = %s, want 5043650.4 1515.1 99.97%% (the seed's 99.98%% counted idle twice)", got)
	}
}
