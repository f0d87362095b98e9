// Package diff compares two captures the way the built-in analyzers see
// them: device op time per framework op (top_ops), per op type (op_types),
// per component (components, with the same bucketing rules) and the
// headline figures, each with the absolute and relative change from the
// baseline A to B. Sums are exact integer picoseconds; each figure is
// converted to microseconds once.
package diff

import (
	"cmp"
	"math"
	"slices"

	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Row is one compared figure.
type Row struct {
	// Key is what is compared: an op, an op type, a component or a metric.
	Key string `json:"key"`
	// Label is a secondary label: the op type of an op, the unit of a metric.
	Label string `json:"label,omitempty"`
	// A is the figure in the baseline (µs unless Label says otherwise).
	A float64 `json:"a"`
	// B is the figure in the compared capture.
	B float64 `json:"b"`
	// Delta is B − A.
	Delta float64 `json:"delta"`
	// DeltaPct is (B − A) / A × 100, and 0 when A is 0.
	DeltaPct float64 `json:"delta_pct"`
}

// Result holds the differences, each table sorted by the size of the
// change, largest first, then by key.
type Result struct {
	// Ops compares device op time per framework operation (Label: op type).
	Ops []Row `json:"ops"`
	// Components compares device op time per component.
	Components []Row `json:"components"`
	// OpTypes compares device op time per op type.
	OpTypes []Row `json:"op_types"`
	// Summary compares headline figures, in a fixed order.
	Summary []Row `json:"summary"`
}

// Compare compares b with the baseline a. Nil rules mean bucket.Default().
func Compare(a, b *capture.Capture, rules *bucket.Rules) *Result {
	if rules == nil {
		rules = bucket.Default()
	}
	type opKey struct{ op, typ string }
	opOf := func(o ops.Op) opKey { return opKey{o.Operation, o.Type} }
	typeOf := func(o ops.Op) string { return o.Type }
	compOf := func(o ops.Op) string { return rules.Component(o) }

	r := &Result{}
	r.Ops = compareGroups(a, b, opOf, func(k opKey) (string, string) { return k.op, k.typ })
	r.OpTypes = compareGroups(a, b, typeOf, func(k string) (string, string) { return k, "" })
	r.Components = compareGroups(a, b, compOf, func(k string) (string, string) { return k, "" })
	r.Summary = summary(a, b)
	return r
}

// compareGroups sums device op time by key in both captures and compares.
func compareGroups[K comparable](a, b *capture.Capture, key func(ops.Op) K, name func(K) (string, string)) []Row {
	ga, _ := ops.Sum(a, key)
	gb, _ := ops.Sum(b, key)
	type pair struct{ a, b int64 }
	sums := map[K]*pair{}
	var order []K
	for _, g := range ga {
		sums[g.Key] = &pair{a: g.Total}
		order = append(order, g.Key)
	}
	for _, g := range gb {
		if p := sums[g.Key]; p != nil {
			p.b = g.Total
			continue
		}
		sums[g.Key] = &pair{b: g.Total}
		order = append(order, g.Key)
	}
	rows := make([]Row, 0, len(order))
	for _, k := range order {
		p := sums[k]
		key, label := name(k)
		rows = append(rows, psRow(key, label, p.a, p.b))
	}
	slices.SortStableFunc(rows, func(x, y Row) int {
		if c := cmp.Compare(math.Abs(y.Delta), math.Abs(x.Delta)); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Label, y.Label))
	})
	return rows
}

// psRow compares two picosecond figures in microseconds.
func psRow(key, label string, a, b int64) Row {
	us := float64(capture.Microsecond)
	return Row{Key: key, Label: label, A: float64(a) / us, B: float64(b) / us, Delta: float64(b-a) / us, DeltaPct: pct(a, b)}
}

// countRow compares two counts.
func countRow(key string, a, b int64) Row {
	return Row{Key: key, Label: "count", A: float64(a), B: float64(b), Delta: float64(b - a), DeltaPct: pct(a, b)}
}

func pct(a, b int64) float64 {
	if a == 0 {
		return 0
	}
	return 100 * float64(b-a) / float64(a)
}

// figures are a capture's headline figures in picoseconds and counts.
type figures struct {
	span, busy, opTotal, windows int64
	opEvents, nWindows, kept     int64
	idlePct                      float64
}

func figuresOf(c *capture.Capture) figures {
	f := figures{span: c.Span.Len(), windows: capture.TotalLen(c.Windows), nWindows: int64(len(c.Windows)), kept: c.EventsKept()}
	devs := c.Devices()
	for _, p := range devs {
		f.busy += p.Busy
		f.opTotal += p.OpTotal
		f.opEvents += p.OpEvents
	}
	if whole := f.span * int64(len(devs)); whole > 0 {
		f.idlePct = 100 * float64(whole-f.busy) / float64(whole)
	}
	return f
}

// summary compares the headline figures: span, device busy time (summed
// over devices), device op time, idle % (of the span, over every device),
// device op events, windows and their length, events kept.
func summary(a, b *capture.Capture) []Row {
	fa, fb := figuresOf(a), figuresOf(b)
	idle := Row{Key: "idle_pct", Label: "%", A: fa.idlePct, B: fb.idlePct, Delta: fb.idlePct - fa.idlePct}
	if fa.idlePct != 0 {
		idle.DeltaPct = 100 * (fb.idlePct - fa.idlePct) / fa.idlePct
	}
	return []Row{
		psRow("span_us", "us", fa.span, fb.span),
		psRow("device_busy_us", "us", fa.busy, fb.busy),
		psRow("device_op_us", "us", fa.opTotal, fb.opTotal),
		idle,
		countRow("device_op_events", fa.opEvents, fb.opEvents),
		countRow("windows", fa.nWindows, fb.nWindows),
		psRow("windows_us", "us", fa.windows, fb.windows),
		countRow("events_kept", fa.kept, fb.kept),
	}
}
