package gen

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Window parameters of the truth, as `fleetprof inspect` defaults them.
const (
	TruthGap = 1 * msec
	TruthPad = 100 * usec
)

// Truth is what a correct reader must find in a generated capture, in the
// fields and meaning of ../shared/testdata/README.md's truth.json. Times
// are exact decimals of µs (absolute ones since the epoch); Exact holds the
// same in integer picoseconds.
type Truth struct {
	// Generator says what made the capture and how.
	Generator GeneratorInfo `json:"generator"`
	// SpanUS is the span's length.
	SpanUS capture.Micros `json:"span_us"`
	// SpanStartUS and SpanEndUS bound the span, absolute.
	SpanStartUS capture.Micros `json:"span_start_us"`
	// SpanEndUS is the span's end, absolute.
	SpanEndUS capture.Micros `json:"span_end_us"`
	// Devices are keyed by plane name.
	Devices map[string]DeviceTruth `json:"devices"`
	// Windows are [start, end], absolute, for GapUS and PadUS.
	Windows [][2]capture.Micros `json:"windows"`
	// GapUS is the gap threshold the windows were built with.
	GapUS capture.Micros `json:"gap_us"`
	// PadUS is the pad.
	PadUS capture.Micros `json:"pad_us"`
	// EventsTotal counts every X event.
	EventsTotal int64 `json:"events_total"`
	// EventsKept counts the events whose closed interval meets a window.
	EventsKept int64 `json:"events_kept"`
	// DeviceOpEvents counts the events on the devices' XLA Ops lines.
	DeviceOpEvents int64 `json:"device_op_events"`
	// NonIdleOpUS sums the devices' busy time.
	NonIdleOpUS capture.Micros `json:"non_idle_op_us"`
	// Exact is the same in picoseconds relative to BaseNS.
	Exact ExactTruth `json:"exact"`
}

// GeneratorInfo records the Config a capture came from.
type GeneratorInfo struct {
	// Name is "fleetprof-gen".
	Name string `json:"name"`
	// Seed, Events, Devices, Bursts and StepsPerBurst are the shape.
	Seed int64 `json:"seed"`
	// Events is the number of X events asked for (and made).
	Events int64 `json:"events"`
	// Devices is the number of device planes.
	Devices int `json:"devices"`
	// Bursts is the number of busy stretches.
	Bursts int `json:"bursts"`
	// StepsPerBurst is the number of steps per burst.
	StepsPerBurst int `json:"steps_per_burst"`
	// Order is the JSON event order.
	Order string `json:"order"`
}

// DeviceTruth is one device's busy and idle time.
type DeviceTruth struct {
	// SpanUS is the capture's span.
	SpanUS capture.Micros `json:"span_us"`
	// BusyUS is the length of the union of the device's op intervals.
	BusyUS capture.Micros `json:"busy_us"`
	// IdleUS is span − busy.
	IdleUS capture.Micros `json:"idle_us"`
	// IdlePct is idle as a percentage of the span.
	IdlePct float64 `json:"idle_pct"`
	// OpEvents counts the device's op events.
	OpEvents int64 `json:"op_events"`
}

// ExactTruth is the truth in integer picoseconds from BaseNS.
type ExactTruth struct {
	// BaseNS is the capture's start in epoch nanoseconds.
	BaseNS int64 `json:"base_ns"`
	// Span is [start, end].
	Span [2]int64 `json:"span_ps"`
	// Windows are [start, end].
	Windows [][2]int64 `json:"windows_ps"`
	// Busy is each device's busy time, keyed by plane name.
	Busy map[string]int64 `json:"busy_ps"`
}

// Truth computes the truth by walking the events it generates: their span,
// each device's op count and busy time (the union of its op intervals), the
// windows, and the events that meet them. It does not share code with the
// readers and trimmer it checks.
func (c *Capture) Truth() (*Truth, error) {
	order := c.planeOrder(DevicesFirst)
	var total int64
	span := [2]int64{1<<63 - 1, -1 << 63}
	busy := make([][][2]int64, len(c.planes))
	err := c.walk(order, func(e *event) error {
		total++
		span[0] = min(span[0], e.start)
		span[1] = max(span[1], e.start+e.dur)
		if c.planes[e.plane].device >= 0 && e.line == lineOps {
			busy[e.plane] = append(busy[e.plane], [2]int64{e.start, e.start + e.dur})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := &Truth{
		Generator: GeneratorInfo{Name: "fleetprof-gen", Seed: c.cfg.Seed, Events: c.cfg.Events, Devices: c.cfg.Devices,
			Bursts: c.cfg.Bursts, StepsPerBurst: c.stepsPerBurst, Order: c.cfg.Order.String()},
		EventsTotal: total,
		GapUS:       capture.MicrosOf(TruthGap),
		PadUS:       capture.MicrosOf(TruthPad),
		Devices:     map[string]DeviceTruth{},
		Windows:     [][2]capture.Micros{},
		Exact:       ExactTruth{BaseNS: c.cfg.StartNS, Span: span, Busy: map[string]int64{}},
	}
	spanLen := span[1] - span[0]
	var all [][2]int64
	var nonIdle int64
	for p := range c.planes {
		pl := &c.planes[p]
		if pl.device < 0 {
			continue
		}
		u := union(busy[p])
		var b int64
		for _, iv := range u {
			b += iv[1] - iv[0]
		}
		all = append(all, u...)
		nonIdle += b
		t.DeviceOpEvents += int64(len(busy[p]))
		t.Devices[pl.name] = DeviceTruth{
			SpanUS: capture.MicrosOf(spanLen), BusyUS: capture.MicrosOf(b), IdleUS: capture.MicrosOf(spanLen - b),
			IdlePct: 100 * float64(spanLen-b) / float64(spanLen), OpEvents: int64(len(busy[p])),
		}
		t.Exact.Busy[pl.name] = b
	}
	t.NonIdleOpUS = capture.MicrosOf(nonIdle)
	win := windows(all, TruthGap, TruthPad, span)
	t.Exact.Windows = win
	err = c.walk(order, func(e *event) error {
		s, end := e.start, e.start+e.dur
		// The first window that ends at or after s; the event meets it if
		// it starts at or before the event's end.
		i := sort.Search(len(win), func(i int) bool { return win[i][1] >= s })
		if i < len(win) && win[i][0] <= end {
			t.EventsKept++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	abs := func(rel int64) capture.Micros { return absMicros(c.cfg.StartNS, rel) }
	t.SpanStartUS, t.SpanEndUS, t.SpanUS = abs(span[0]), abs(span[1]), capture.MicrosOf(spanLen)
	for _, w := range win {
		t.Windows = append(t.Windows, [2]capture.Micros{abs(w[0]), abs(w[1])})
	}
	return t, nil
}

// union sorts closed intervals and merges those that overlap or touch.
func union(iv [][2]int64) [][2]int64 {
	iv = slices.Clone(iv)
	slices.SortFunc(iv, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	for _, x := range iv {
		if n := len(out); n > 0 && x[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], x[1])
			continue
		}
		out = append(out, x)
	}
	return out
}

// windows builds the non-idle windows: the union of the busy intervals,
// neighbours closer than gap merged, each widened by pad within the span,
// overlaps merged.
func windows(busy [][2]int64, gap, pad int64, span [2]int64) [][2]int64 {
	u := union(busy)
	var merged [][2]int64
	for _, x := range u {
		if n := len(merged); n > 0 && x[0]-merged[n-1][1] < gap {
			merged[n-1][1] = max(merged[n-1][1], x[1])
			continue
		}
		merged = append(merged, x)
	}
	var out [][2]int64
	for _, x := range merged {
		w := [2]int64{max(x[0]-pad, span[0]), min(x[1]+pad, span[1])}
		if n := len(out); n > 0 && w[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], w[1])
			continue
		}
		out = append(out, w)
	}
	return out
}

// absMicros returns startNS + rel ps as exact µs since the epoch.
func absMicros(startNS, rel int64) capture.Micros {
	m := capture.MicrosOf(startNS%1000*nsec + rel)
	m.US += startNS / 1000
	return m
}

// WriteJSON writes the truth as indented JSON (truth.json).
func (t *Truth) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return fmt.Errorf("gen: truth: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("gen: truth: %w", err)
	}
	return nil
}
