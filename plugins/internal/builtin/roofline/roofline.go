// Package roofline is the roofline analyzer: for device ops that carry XLA's
// cost model figures (flops, bytes_accessed), the FLOP rate, memory
// bandwidth and arithmetic intensity they achieved, per category and per
// op, against the device's peaks.
package roofline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/figure"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Analyzer computes a roofline table from the flops and bytes_accessed
// stats of device ops (model_flops where flops is missing). Ops without
// either are left out; a capture with none gets a section with a note and no
// rows.
type Analyzer struct{}

// Info implements sdk.Analyzer.
func (Analyzer) Info() sdk.Info {
	return sdk.Info{
		Name:        "roofline",
		Title:       "Roofline",
		Version:     figure.Version,
		Description: "Achieved FLOP/s, bytes/s and arithmetic intensity per category and per op, from XLA's flops and bytes_accessed, against the device's peaks.",
		Order:       35,
	}
}

// The values of the scope column.
const (
	// ScopeCategory rows sum every costed op of a category.
	ScopeCategory = "category"
	// ScopeOp rows sum the ops of one (operation, type), as top_ops does.
	ScopeOp = "op"
)

var columns = []sdk.Column{
	{Key: "scope", Label: "Scope"},
	{Key: "name", Label: "Category or operation"},
	{Key: "type", Label: "Op type"},
	{Key: "category", Label: "Category"},
	{Key: "occurrences", Label: "Occurrences"},
	{Key: "total_us", Label: "Total", Unit: "us"},
	{Key: "gflop", Label: "GFLOP"},
	{Key: "gbyte", Label: "GB accessed"},
	{Key: "tflops_per_s", Label: "Achieved TFLOP/s"},
	{Key: "gbytes_per_s", Label: "Achieved GB/s"},
	{Key: "intensity", Label: "FLOP/byte"},
	{Key: "pct_peak_flops", Label: "% of peak FLOP/s", Unit: "%"},
	{Key: "pct_peak_bw", Label: "% of peak bandwidth", Unit: "%"},
	{Key: "bound", Label: "Bound by"},
}

// cost is what one op execution, or a group of them, costs.
type cost struct {
	count, ps   int64
	flops, byts float64
	// peak is the device peak the group's ops share; ok false when they
	// ran on devices with different or unknown peaks.
	peak   Peak
	peakOK bool
	mixed  bool
}

func (c *cost) add(ps int64, flops, byts float64, peak Peak, peakOK bool) {
	if c.count == 0 {
		c.peak, c.peakOK = peak, peakOK
	} else if c.peakOK != peakOK || c.peak != peak {
		c.mixed = true
		c.peakOK = false
	}
	c.count++
	c.ps += ps
	c.flops += flops
	c.byts += byts
}

type opKey struct{ operation, typ string }

// Analyze implements sdk.Analyzer.
func (Analyzer) Analyze(ctx context.Context, in *sdk.Input) (*sdk.Section, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	peaks := make(map[*capture.Plane]Peak)
	known := make(map[*capture.Plane]bool)
	byCategory := make(map[string]*cost)
	byOp := make(map[opKey]*cost)
	opCategory := make(map[opKey]map[string]int64)
	var all cost
	var allPS, costedEvents, events, modelFlops, starts, startsPS, zero, zeroPS int64
	for op := range ops.DeviceOps(in.Capture) {
		events++
		allPS += op.Event.Dur
		flops, hasFlops := ops.StatNumber(op.Event, ops.FlopsStat)
		usedModel := false
		if !hasFlops {
			flops, hasFlops = ops.StatNumber(op.Event, ops.ModelFlopsStat)
			usedModel = hasFlops
		}
		byts, hasBytes := ops.StatNumber(op.Event, ops.BytesAccessedStat)
		if !hasFlops && !hasBytes {
			continue
		}
		flops, byts = max(flops, 0), max(byts, 0)
		switch {
		case isAsyncHalf(op):
			starts++
			startsPS += op.Event.Dur
			continue
		case flops == 0 && byts == 0:
			zero++
			zeroPS += op.Event.Dur
			continue
		}
		costedEvents++
		if usedModel {
			modelFlops++
		}
		if _, seen := known[op.Plane]; !seen {
			peaks[op.Plane], known[op.Plane] = DevicePeak(op.Plane)
		}
		peak, peakOK := peaks[op.Plane], known[op.Plane]
		if byCategory[op.Category] == nil {
			byCategory[op.Category] = &cost{}
		}
		byCategory[op.Category].add(op.Event.Dur, flops, byts, peak, peakOK)
		k := opKey{op.Operation, op.Type}
		if byOp[k] == nil {
			byOp[k] = &cost{}
			opCategory[k] = make(map[string]int64, 1)
		}
		byOp[k].add(op.Event.Dur, flops, byts, peak, peakOK)
		opCategory[k][op.Category] += op.Event.Dur
		all.add(op.Event.Dur, flops, byts, peak, peakOK)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &sdk.Section{Name: "roofline", Title: "Roofline", Columns: columns, Rows: []sdk.Row{}}
	if costedEvents == 0 {
		s.Summary = []sdk.Metric{{Key: "costed_op_events", Label: "Op events with cost figures", Value: 0}}
		switch {
		case events == 0:
			s.Notes = append(s.Notes, figure.NoDeviceOps(in.Capture))
		case starts+zero > 0:
			s.Notes = append(s.Notes, fmt.Sprintf("No device op has cost figures to show: %d are halves of asynchronous ops and %d have zero flops and bytes_accessed.", starts, zero))
		default:
			s.Notes = append(s.Notes, fmt.Sprintf("None of the %d device op events carries flops or bytes_accessed: no roofline. XLA's cost model writes them on TPU ops (and on GPU ops when the profiler records them); PyTorch and TensorFlow kernels do not have them.", events))
		}
		if notes := peakNotes(in.Capture); len(notes) > 0 && !strings.Contains(notes[0], "could not be identified") {
			s.Notes = append(s.Notes, notes[0])
		}
		return s, nil
	}

	type catRow struct {
		name string
		c    *cost
	}
	cats := make([]catRow, 0, len(byCategory))
	for name, c := range byCategory {
		cats = append(cats, catRow{name, c})
	}
	slices.SortFunc(cats, func(a, b catRow) int {
		return figure.ByTotal(figure.Total{Name: a.name, PS: a.c.ps}, figure.Total{Name: b.name, PS: b.c.ps})
	})
	for _, r := range cats {
		s.Rows = append(s.Rows, row(ScopeCategory, r.name, "", r.name, r.c))
	}
	type opRow struct {
		k opKey
		c *cost
	}
	opRows := make([]opRow, 0, len(byOp))
	for k, c := range byOp {
		opRows = append(opRows, opRow{k, c})
	}
	slices.SortFunc(opRows, func(a, b opRow) int {
		if c := figure.ByTotal(figure.Total{Name: a.k.operation, PS: a.c.ps}, figure.Total{Name: b.k.operation, PS: b.c.ps}); c != 0 {
			return c
		}
		return cmp.Compare(a.k.typ, b.k.typ)
	})
	shown, cut := figure.Cut(opRows)
	for _, r := range shown {
		s.Rows = append(s.Rows, row(ScopeOp, r.k.operation, r.k.typ, dominant(opCategory[r.k]), r.c))
	}

	sec := float64(all.ps) / float64(capture.Second)
	s.Summary = []sdk.Metric{
		{Key: "costed_op_events", Label: "Op events with cost figures", Value: float64(costedEvents)},
		{Key: "costed_pct", Label: "Share of device op time with cost figures", Value: figure.Pct(all.ps, allPS), Unit: "%"},
		{Key: "gflop", Label: "GFLOP", Value: all.flops / 1e9},
		{Key: "gbyte", Label: "GB accessed", Value: all.byts / 1e9},
		{Key: "tflops_per_s", Label: "Achieved TFLOP/s (op time)", Value: rate(all.flops, sec) / 1e12},
		{Key: "gbytes_per_s", Label: "Achieved GB/s (op time)", Value: rate(all.byts, sec) / 1e9},
	}
	if all.peakOK {
		s.Summary = append(s.Summary,
			sdk.Metric{Key: "peak_tflops_per_s", Label: "Peak TFLOP/s (" + all.peak.Chip + ")", Value: all.peak.FLOPS / 1e12},
			sdk.Metric{Key: "peak_gbytes_per_s", Label: "Peak GB/s (" + all.peak.Chip + ")", Value: all.peak.BytesPerSec / 1e9},
			sdk.Metric{Key: "ridge_intensity", Label: "Ridge point (FLOP/byte)", Value: all.peak.Ridge()},
		)
	}
	s.Charts = []sdk.Chart{figure.TopBars("Achieved TFLOP/s by category", cats, func(r catRow) sdk.Bar {
		return sdk.Bar{Label: r.name, Value: rate(r.c.flops, float64(r.c.ps)/float64(capture.Second)) / 1e12}
	})}
	s.Charts[0].Unit = "TFLOP/s"

	s.Notes = append(s.Notes, fmt.Sprintf("From XLA's cost model: each op's flops and bytes_accessed for one execution, summed and divided by the ops' own summed duration. %d of %d device op events (%.1f%% of device op time) carry them; the rest are left out.",
		costedEvents, events, figure.Pct(all.ps, allPS)))
	if starts > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d op events (%.1f%% of device op time) are halves of asynchronous ops (copy-start/copy-done, async-start/async-done, all-gather-start/-done, ...): the start only issues a transfer and the done only waits for it, so neither's own duration says how fast the transfer ran; they are left out (the categories and components sections show their time).",
			starts, figure.Pct(startsPS, allPS)))
	}
	if zero > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d op events (%.1f%% of device op time) have zero flops and bytes_accessed (custom calls such as Pallas kernels, which XLA's cost model cannot see into): they are left out.",
			zero, figure.Pct(zeroPS, allPS)))
	}
	if modelFlops > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d op events have no flops stat: their model_flops (the useful FLOPs, without rematerialisation) are used.", modelFlops))
	}
	s.Notes = append(s.Notes, "Rows: one per category (scope category), then one per operation and op type (scope op). Bound by compares an op's FLOP/byte with the device's ridge point (peak FLOP/s over peak bandwidth): below it, memory bound.")
	s.Notes = append(s.Notes, peakNotes(in.Capture)...)
	if all.mixed {
		s.Notes = append(s.Notes, "The ops ran on devices with different or unknown peaks: rows that mix them show no % of peak.")
	}
	if cut > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d more operations are not listed.", cut))
	}
	return s, nil
}

// row makes one table row.
func row(scope, name, typ, category string, c *cost) sdk.Row {
	sec := float64(c.ps) / float64(capture.Second)
	flopsPerS, bytesPerS := rate(c.flops, sec), rate(c.byts, sec)
	r := sdk.Row{
		"scope":          scope,
		"name":           name,
		"type":           typ,
		"category":       category,
		"occurrences":    c.count,
		"total_us":       figure.US(c.ps),
		"gflop":          c.flops / 1e9,
		"gbyte":          c.byts / 1e9,
		"tflops_per_s":   flopsPerS / 1e12,
		"gbytes_per_s":   bytesPerS / 1e9,
		"intensity":      "",
		"pct_peak_flops": "",
		"pct_peak_bw":    "",
		"bound":          "",
	}
	if c.byts > 0 {
		r["intensity"] = c.flops / c.byts
	}
	if c.peakOK {
		r["pct_peak_flops"] = 100 * flopsPerS / c.peak.FLOPS
		r["pct_peak_bw"] = 100 * bytesPerS / c.peak.BytesPerSec
		switch {
		case c.byts > 0 && c.flops/c.byts < c.peak.Ridge():
			r["bound"] = "memory"
		case c.flops > 0:
			r["bound"] = "compute"
		}
	}
	return r
}

// isAsyncHalf reports whether an op is a half of an asynchronous op
// (copy-start/copy-done, async-start/async-done, all-gather-start/-done,
// send/recv and their done halves): the start only issues work that the done
// waits for, so neither's duration is the work's.
func isAsyncHalf(op ops.Op) bool {
	switch c := op.Category; {
	case strings.HasSuffix(c, "-start"), strings.HasSuffix(c, "-done"), c == "send", c == "recv":
		return true
	}
	name := ops.HLOName(op.Event.Name)
	if i := strings.LastIndexByte(name, '.'); i > 0 && isDigits(name[i+1:]) {
		name = name[:i]
	}
	return strings.HasSuffix(name, "-start") || strings.HasSuffix(name, "-done")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// rate is n per second over sec seconds, 0 for no time.
func rate(n, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return n / sec
}

// dominant returns the category with the most time, ties by name.
func dominant(m map[string]int64) string {
	var best string
	var bestPS int64 = -1
	for c, ps := range m {
		if ps > bestPS || ps == bestPS && c < best {
			best, bestPS = c, ps
		}
	}
	return best
}

// peakNotes says which peaks the devices have, or that they are unknown.
func peakNotes(c *capture.Capture) []string {
	seen := make(map[string]bool)
	var known []string
	var unknown int
	for _, p := range c.Devices() {
		peak, ok := DevicePeak(p)
		if !ok {
			unknown++
			continue
		}
		if s := peak.String(); !seen[s] {
			seen[s] = true
			known = append(known, s)
		}
	}
	var notes []string
	if len(known) > 0 {
		notes = append(notes, "Device peaks: "+strings.Join(known, "; ")+". Published peaks are the vendor's dense BF16 (V100: FP16) matrix rate and HBM bandwidth, not measured.")
	}
	if unknown > 0 {
		what := "1 device"
		if unknown > 1 {
			what = fmt.Sprintf("%d devices", unknown)
		}
		notes = append(notes, what+" could not be identified (no device name or peak stats on its plane): no % of peak for its ops.")
	}
	return notes
}
