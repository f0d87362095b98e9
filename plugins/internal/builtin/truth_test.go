package builtin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/categories"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/components"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/hostevents"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/idle"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/optypes"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/roofline"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/topops"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// checker compares one section with truth and reports mismatches, at most
// 20 per section.
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

// table checks a section's rows against a truth table: the same rows (found
// by their key columns, since rows with equal totals may come in either
// order), every number truth gives (counts exact, times within TimeTol,
// percentages within PctTol), and the rows sorted by total, descending.
func (c *checker) table(s *sdk.Section, want []map[string]any, keys ...string) {
	c.t.Helper()
	if len(s.Rows) != len(want) {
		c.errorf("%d rows, want %d", len(s.Rows), len(want))
	}
	key := func(r map[string]any) string {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i], _ = r[k].(string)
		}
		return strings.Join(parts, " | ")
	}
	got := make(map[string]int, len(s.Rows))
	for i, r := range s.Rows {
		k := key(r)
		if _, dup := got[k]; dup {
			c.errorf("row %d: key %q twice", i, k)
		}
		got[k] = i
	}
	for _, w := range want {
		i, ok := got[key(w)]
		if !ok {
			c.errorf("row %q is missing", key(w))
			continue
		}
		r := s.Rows[i]
		for k, v := range w {
			switch v := v.(type) {
			case string:
				// a key column: matched above
			case float64:
				switch {
				case k == "occurrences" || k == "count":
					c.count(i, r, k, int64(v))
				case k == "pct" || strings.HasSuffix(k, "_pct"):
					c.num(i, r, k, v, PctTol)
				default:
					c.num(i, r, k, v, TimeTol)
				}
			}
		}
		if occ, ok := w["occurrences"].(float64); ok && occ > 0 {
			c.num(i, r, "avg_us", w["total_us"].(float64)/occ, TimeTol)
		}
	}
	for i := 1; i < len(s.Rows); i++ {
		a, _ := s.Rows[i-1]["total_us"].(float64)
		b, _ := s.Rows[i]["total_us"].(float64)
		if b > a {
			c.errorf("rows not sorted by total_us at %d (%v after %v)", i, b, a)
			break
		}
	}
}

// TestTruth runs every built-in analyzer on every capture file of every
// folder of the shared testdata that has a truth.json (found by walking),
// directly, over the plugin protocol and as its real plugin process, and
// compares its rows with truth.json: top_ops, op_types, categories,
// seed_components (with the built-in seed rules), host_events and idle.
func TestTruth(t *testing.T) {
	for _, f := range Fixtures(t) {
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
	analyze := func(a sdk.Analyzer, opts map[string]string) *sdk.Section { return rn.run(t, a, c, opts) }

	s := analyze(topops.Analyzer{}, nil)
	(&checker{t: t, what: "top_ops"}).table(s, tr.TopOps, "type", "operation")
	if got := metric(s, "device_op_events"); got != float64(tr.DeviceOpEvents) {
		t.Errorf("top_ops device_op_events = %v, want %d", got, tr.DeviceOpEvents)
	}
	if got := metric(s, "device_op_us"); !Near(got, tr.NonIdleOpUS, TimeTol) {
		t.Errorf("top_ops device_op_us = %v, want %v", got, tr.NonIdleOpUS)
	}

	s = analyze(optypes.Analyzer{}, nil)
	(&checker{t: t, what: "op_types"}).table(s, tr.OpTypes, "type")

	s = analyze(categories.Analyzer{}, nil)
	(&checker{t: t, what: "categories"}).table(s, tr.Categories, "category")

	s = analyze(components.Analyzer{}, map[string]string{components.RulesOption: bucket.SeedSet})
	(&checker{t: t, what: "components (seed rules)"}).table(s, tr.SeedComponents, "component")

	s = analyze(hostevents.Analyzer{}, nil)
	(&checker{t: t, what: "host_events"}).table(s, tr.HostEvents, "name")

	s = analyze(idle.Analyzer{}, nil)
	ck := &checker{t: t, what: "idle"}
	if len(s.Rows) != len(tr.Devices) {
		ck.errorf("%d rows, want %d", len(s.Rows), len(tr.Devices))
	}
	for i, r := range s.Rows {
		name, _ := r["device"].(string)
		w, ok := tr.Devices[name]
		if !ok {
			ck.errorf("row %d: device %q is not in truth.json", i, name)
			continue
		}
		ck.num(i, r, "span_us", w.SpanUS, TimeTol)
		ck.num(i, r, "busy_us", w.BusyUS, TimeTol)
		ck.num(i, r, "idle_us", w.IdleUS, TimeTol)
		ck.num(i, r, "idle_pct", w.IdlePct, PctTol)
		ck.count(i, r, "op_events", w.OpEvents)
	}
	if got := metric(s, "windows"); got != float64(len(tr.Windows)) {
		t.Errorf("idle windows = %v, want %d", got, len(tr.Windows))
	}
	if got := metric(s, "span_us"); !Near(got, tr.SpanUS, TimeTol) {
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

// TestDefaultComponents checks the default rules on every real capture
// with device ops: "other" is under 10 % of device op time, and
// control_flow holds only ops that are control flow, by name (while,
// conditional, call; JAX's while/cond) or by category ("control flow").
func TestDefaultComponents(t *testing.T) {
	for _, f := range Fixtures(t) {
		if !strings.HasPrefix(f.Dir, "real/") {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			c := Load(t, f)
			rules := bucket.Default()
			var total, other int64
			for op := range ops.DeviceOps(c) {
				total += op.Event.Dur
				switch rules.Component(op) {
				case bucket.DefaultComponent:
					other += op.Event.Dur
				case "control_flow":
					if !isControlFlow(op.Operation, op.Type, op.Category) {
						t.Errorf("control_flow holds %q (type %q, category %q), which is no control flow", op.Operation, op.Type, op.Category)
					}
				}
			}
			if total == 0 {
				t.Skip("no device ops")
			}
			if pct := 100 * float64(other) / float64(total); pct >= 10 {
				t.Errorf("other = %.2f%% of device op time, want < 10%%", pct)
			}
		})
	}
}

// isControlFlow is what this test accepts as control flow.
func isControlFlow(operation, typ, category string) bool {
	if category == "control flow" {
		return true
	}
	last := operation[strings.LastIndexByte(operation, '/')+1:]
	if i := strings.IndexByte(last, '.'); i >= 0 {
		last = last[:i]
	}
	for _, n := range []string{"while", "conditional", "call", "cond", "scan"} {
		if strings.EqualFold(last, n) || strings.EqualFold(typ, n) {
			return true
		}
	}
	return false
}

// TestSeedReport checks the analyzers against the tables the seed report
// printed, to its printed precision: components (with the built-in seed
// rules), op types (top 10) and the top 10 device ops; and the corrected
// idle (99.97 %, not 99.98 %).
func TestSeedReport(t *testing.T) {
	for _, f := range Fixtures(t) {
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
	analyze := func(a sdk.Analyzer, opts map[string]string) *sdk.Section { return rn.run(t, a, c, opts) }

	s := analyze(components.Analyzer{}, map[string]string{components.RulesOption: bucket.SeedSet})
	var got []string
	for _, r := range s.Rows {
		got = append(got, fmt.Sprintf("| %s | %.1f | %.1f%% |", r["component"], r["total_us"], r["pct"]))
	}
	diffLines(t, "components", report["Component breakdown (non‑idle):"], got)

	s = analyze(optypes.Analyzer{}, nil)
	got = nil
	for _, r := range s.Rows[:10] {
		got = append(got, fmt.Sprintf("| %s | %.1f | %.1f%% |", r["type"], r["total_us"], r["pct"]))
	}
	diffLines(t, "op types", report["Top op types (non‑idle, top 10):"], got)

	// The seed cut operation names at the first '-' after RPA ... it
	// printed a prefix: compare the operation as a prefix, the rest
	// exactly. Its occurrences were floats ("1.0").
	s = analyze(topops.Analyzer{}, nil)
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

	s = analyze(idle.Analyzer{}, nil)
	r := s.Rows[0]
	if got := fmt.Sprintf("%.1f %.1f %.2f%%", r["idle_us"], r["busy_us"], r["idle_pct"]); got != "5043650.4 1515.1 99.97%" {
		t.Errorf("idle = %s, want 5043650.4 1515.1 99.97%% (the seed's 99.98%% counted idle twice)", got)
	}
}

// TestRoofline checks the roofline of the real TPU capture, the one with
// XLA's cost figures, against sums made here from the events' own stats,
// through every runner.
func TestRoofline(t *testing.T) {
	f := FixtureNamed(t, "real/xprof-tpu-inference/xplane")
	c := Load(t, f)
	// Independent sums per category, leaving out both halves of async
	// copies.
	type sum struct {
		ps          int64
		flops, byts float64
	}
	want := map[string]*sum{}
	for op := range ops.DeviceOps(c) {
		if strings.HasSuffix(op.Category, "-start") || strings.HasSuffix(op.Category, "-done") {
			continue
		}
		fl, _ := ops.StatNumber(op.Event, ops.FlopsStat)
		by, _ := ops.StatNumber(op.Event, ops.BytesAccessedStat)
		if want[op.Category] == nil {
			want[op.Category] = &sum{}
		}
		want[op.Category].ps += op.Event.Dur
		want[op.Category].flops += fl
		want[op.Category].byts += by
	}
	for _, rn := range runners {
		t.Run(rn.name, func(t *testing.T) {
			s := rn.run(t, roofline.Analyzer{}, c, nil)
			n := 0
			for _, r := range s.Rows {
				if r["scope"] != roofline.ScopeCategory {
					continue
				}
				n++
				w := want[r["category"].(string)]
				if w == nil {
					t.Errorf("category row %v is not a category of the capture", r["category"])
					continue
				}
				sec := float64(w.ps) / 1e12
				for key, v := range map[string]float64{"tflops_per_s": w.flops / sec / 1e12, "gbytes_per_s": w.byts / sec / 1e9, "pct_peak_bw": 100 * w.byts / sec / 1637.993152512e9} {
					if got, _ := r[key].(float64); !Near(got, v, 1e-9*max(1, v)) {
						t.Errorf("%s %s = %v, want %v", r["category"], key, r[key], v)
					}
				}
			}
			if n != len(want) {
				t.Errorf("%d category rows, want %d", n, len(want))
			}
			if got := metric(s, "peak_tflops_per_s"); got != 918 {
				t.Errorf("peak_tflops_per_s = %v, want the capture's 918", got)
			}
		})
	}
}
