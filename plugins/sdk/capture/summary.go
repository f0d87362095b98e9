package capture

import (
	"fmt"
	"strconv"
	"strings"
)

// Summary is what `fleetprof inspect` prints and every report starts with.
// Its JSON form is part of the report schema (docs/report-schema.md).
type Summary struct {
	// Source is the file's base name.
	Source string `json:"source,omitempty"`
	// Format is the source format.
	Format string `json:"format,omitempty"`
	// BaseTimeNS is the base time in epoch nanoseconds.
	BaseTimeNS int64 `json:"base_time_ns"`
	// SpanStartUS and SpanEndUS bound the span, absolute µs since the epoch.
	SpanStartUS Micros `json:"span_start_us"`
	// SpanEndUS is the span's end, absolute µs since the epoch.
	SpanEndUS Micros `json:"span_end_us"`
	// SpanUS is the span's length.
	SpanUS Micros `json:"span_us"`
	// SpanFrom says what the span is: "session" (the profiling session,
	// widened to hold every event) or "events" (the events' extent).
	SpanFrom string `json:"span_from,omitempty"`
	// GapUS and PadUS are the window parameters.
	GapUS Micros `json:"gap_us"`
	// PadUS is the pad.
	PadUS Micros `json:"pad_us"`
	// EventsTotal counts every event of the source.
	EventsTotal int64 `json:"events_total"`
	// EventsKept counts the events in windows.
	EventsKept int64 `json:"events_kept"`
	// DeviceOpEvents counts op events over every device.
	DeviceOpEvents int64 `json:"device_op_events"`
	// NonIdleOpUS sums the durations of every device op (the base of the
	// op tables' percentages; more than the busy time when ops overlap).
	NonIdleOpUS Micros `json:"non_idle_op_us"`
	// Windows are [start, end] in absolute µs since the epoch.
	Windows [][2]Micros `json:"windows"`
	// WindowsUS is the summed length of the windows.
	WindowsUS Micros `json:"windows_us"`
	// Devices are keyed by plane name.
	Devices map[string]DeviceSummary `json:"devices"`
	// DeviceOrder lists the device planes in source order.
	DeviceOrder []string `json:"device_order"`
	// Warnings met while reading.
	Warnings []string `json:"warnings,omitempty"`
}

// DeviceSummary is one device's busy and idle time.
type DeviceSummary struct {
	// SpanUS is the capture's span (idle is measured against it).
	SpanUS Micros `json:"span_us"`
	// BusyUS is the length of the union of the device's op intervals.
	BusyUS Micros `json:"busy_us"`
	// IdleUS is span − busy.
	IdleUS Micros `json:"idle_us"`
	// IdlePct is idle as a percentage of the span.
	IdlePct float64 `json:"idle_pct"`
	// OpEvents counts the device's op events.
	OpEvents int64 `json:"op_events"`
}

// Micros is a time in microseconds held exactly as whole µs and picoseconds;
// it marshals to JSON as a decimal number with up to six decimals.
type Micros struct {
	// US is the whole microseconds.
	US int64
	// PS is the picoseconds past them, 0..999999.
	PS int64
}

// MicrosOf converts picoseconds exactly.
func MicrosOf(ps int64) Micros {
	m := Micros{US: ps / Microsecond, PS: ps % Microsecond}
	if m.PS < 0 {
		m.PS += Microsecond
		m.US--
	}
	return m
}

// Float returns the value as float64 microseconds.
func (m Micros) Float() float64 { return float64(m.US) + float64(m.PS)/float64(Microsecond) }

// String formats the value exactly, trailing zeros trimmed.
func (m Micros) String() string {
	b := strconv.AppendInt(nil, m.US, 10)
	if m.US < 0 && m.PS > 0 {
		// -1 µs + 250000 ps = -0.75 µs: format from the total instead.
		neg := -(m.US*Microsecond + m.PS)
		return "-" + MicrosOf(neg).String()
	}
	if m.PS == 0 {
		return string(b)
	}
	frac := strconv.AppendInt(nil, m.PS+Microsecond, 10)[1:] // zero-padded to 6 digits
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	return string(append(append(b, '.'), frac...))
}

// MarshalJSON writes the exact decimal.
func (m Micros) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a decimal number of microseconds exactly (up to six
// decimals; more round half up; no exponent).
func (m *Micros) UnmarshalJSON(b []byte) error {
	t := string(b)
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(t, "-")
	ip, fp, _ := strings.Cut(t, ".")
	if ip == "" || strings.Trim(ip, "0123456789") != "" || strings.Trim(fp, "0123456789") != "" {
		return fmt.Errorf("capture: %q is not a decimal number of microseconds", b)
	}
	us, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		return fmt.Errorf("capture: %q: %w", b, err)
	}
	var ps int64
	for i := 0; i < 6; i++ {
		ps *= 10
		if i < len(fp) {
			ps += int64(fp[i] - '0')
		}
	}
	if len(fp) > 6 && fp[6] >= '5' {
		ps++
	}
	total := MicrosOf(ps)
	total.US += us
	if neg {
		total = MicrosOf(-(total.US*Microsecond + total.PS))
	}
	*m = total
	return nil
}

// Summarize computes the capture's summary.
func Summarize(c *Capture) Summary {
	abs := func(rel int64) Micros {
		us, ps := c.AbsPS(rel)
		return Micros{US: us, PS: ps}
	}
	s := Summary{
		Source:         c.Source.Name,
		Format:         c.Source.Format,
		BaseTimeNS:     c.BaseNS,
		SpanStartUS:    abs(c.Span.Start),
		SpanEndUS:      abs(c.Span.End),
		SpanUS:         MicrosOf(c.Span.Len()),
		SpanFrom:       c.SpanFrom,
		GapUS:          MicrosOf(c.Gap),
		PadUS:          MicrosOf(c.Pad),
		EventsTotal:    c.EventsTotal,
		EventsKept:     c.EventsKept(),
		DeviceOpEvents: c.DeviceOpEvents(),
		WindowsUS:      MicrosOf(TotalLen(c.Windows)),
		Windows:        [][2]Micros{},
		Devices:        map[string]DeviceSummary{},
		Warnings:       c.Warnings,
	}
	var opTotal int64
	for _, w := range c.Windows {
		s.Windows = append(s.Windows, [2]Micros{abs(w.Start), abs(w.End)})
	}
	span := c.Span.Len()
	for _, p := range c.Devices() {
		opTotal += p.OpTotal
		idle := span - p.Busy
		d := DeviceSummary{SpanUS: MicrosOf(span), BusyUS: MicrosOf(p.Busy), IdleUS: MicrosOf(idle), OpEvents: p.OpEvents}
		if span > 0 {
			d.IdlePct = 100 * float64(idle) / float64(span)
		}
		s.Devices[p.Name] = d
		s.DeviceOrder = append(s.DeviceOrder, p.Name)
	}
	s.NonIdleOpUS = MicrosOf(opTotal)
	return s
}
