package tracejson

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Pids that Write uses besides plane.ID+1.
const (
	// HostPID is the host plane's pid, as the TSL converter writes it.
	HostPID = 701
	// MarkerPID is the pid of the SkipProcess process that marks the idle
	// stretches Write removed.
	MarkerPID = 0x7fff0000
	// markerTID is the marker thread's tid.
	markerTID = 1
	// MarkerThread is the name of the marker thread.
	MarkerThread = "idle removed"
)

// Write writes a trimmed capture as TSL-style trace JSON:
//
//	{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[...,{}]}
//
// Each plane is a process (pid plane.ID+1, or HostPID for /host:CPU) with
// process_name and process_sort_index M events, each line a thread (tid
// line.DisplayID, or its ID when that is 0) named by a thread_name M event
// with its display name, or its name when it has none, as the TSL converter
// does. Each kept event is an X event with ts and dur in microseconds with
// six decimals, computed exactly from c.BaseNS and the picosecond times, its
// stats as string args, and its display name as args.long_name when no
// stat holds one.
//
// Every idle stretch that trimming removed (between windows, and before the
// first and after the last within c.Span) becomes one X slice named like
// "idle removed: 384.95 ms" on the "idle removed" thread of a process named
// SkipProcess, so a person opening the file in Perfetto or chrome://tracing
// sees the cut; Walk skips that process.
func Write(w io.Writer, c *capture.Capture) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	e := &encoder{w: bw, c: c}
	if err := e.all(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tracejson: write: %w", err)
	}
	return nil
}

// encoder writes one capture.
type encoder struct {
	w     *bufio.Writer
	c     *capture.Capture
	b     []byte
	first bool
}

func (e *encoder) all() error {
	e.b = append(e.b[:0], `{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[`...)
	e.first = true
	for _, p := range e.c.Planes {
		pid := planePID(p)
		e.meta(pid, -1, "process_name", p.Name)
		e.sortIndex(pid, pid)
		for _, l := range p.Lines {
			name := l.DisplayName
			if name == "" {
				name = l.Name
			}
			e.meta(pid, lineTID(l), "thread_name", name)
		}
		if err := e.flush(); err != nil {
			return err
		}
	}
	gaps := idleGaps(e.c)
	if len(gaps) > 0 {
		e.meta(MarkerPID, -1, "process_name", SkipProcess)
		e.sortIndex(MarkerPID, -1)
		e.meta(MarkerPID, markerTID, "thread_name", MarkerThread)
	}
	for _, p := range e.c.Planes {
		pid := planePID(p)
		for _, l := range p.Lines {
			tid := lineTID(l)
			for i := range l.Events {
				if err := e.event(pid, tid, &l.Events[i]); err != nil {
					return fmt.Errorf("tracejson: write plane %q line %q event %d: %w", p.Name, l.Name, i, err)
				}
				if len(e.b) >= 128<<10 {
					if err := e.flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	for _, g := range gaps {
		ev := capture.Event{
			Name:  "idle removed: " + formatDur(g.Len()),
			Start: g.Start,
			Dur:   g.Len(),
			Stats: []capture.Stat{{Name: "note", Kind: capture.StatString,
				Str: "fleetprof removed this idle stretch; the events in it are summarised in the report, not kept"}},
		}
		if err := e.event(MarkerPID, markerTID, &ev); err != nil {
			return fmt.Errorf("tracejson: write idle marker: %w", err)
		}
	}
	e.sep()
	e.b = append(e.b, "{}]}\n"...)
	return e.flush()
}

func (e *encoder) flush() error {
	if _, err := e.w.Write(e.b); err != nil {
		return fmt.Errorf("tracejson: write: %w", err)
	}
	e.b = e.b[:0]
	return nil
}

func (e *encoder) sep() {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
}

// meta writes a naming M event; tid < 0 leaves tid out.
func (e *encoder) meta(pid, tid int64, kind, name string) {
	e.sep()
	e.b = append(e.b, `{"ph":"M","pid":`...)
	e.b = strconv.AppendInt(e.b, pid, 10)
	if tid >= 0 {
		e.b = append(e.b, `,"tid":`...)
		e.b = strconv.AppendInt(e.b, tid, 10)
	}
	e.b = append(e.b, `,"name":"`...)
	e.b = append(e.b, kind...)
	e.b = append(e.b, `","args":{"name":`...)
	e.b = appendString(e.b, name)
	e.b = append(e.b, "}}"...)
}

func (e *encoder) sortIndex(pid, index int64) {
	e.sep()
	e.b = append(e.b, `{"ph":"M","pid":`...)
	e.b = strconv.AppendInt(e.b, pid, 10)
	e.b = append(e.b, `,"name":"process_sort_index","args":{"sort_index":`...)
	e.b = strconv.AppendInt(e.b, index, 10)
	e.b = append(e.b, "}}"...)
}

// event writes an X event.
func (e *encoder) event(pid, tid int64, ev *capture.Event) error {
	if ev.Dur < 0 {
		return fmt.Errorf("%w: negative duration %d ps", ErrBadTime, ev.Dur)
	}
	us, ps := e.c.AbsPS(ev.Start)
	if us < 0 {
		return fmt.Errorf("%w: start %d ps lies before 1970", ErrBadTime, ev.Start)
	}
	e.sep()
	e.b = append(e.b, `{"ph":"X","pid":`...)
	e.b = strconv.AppendInt(e.b, pid, 10)
	e.b = append(e.b, `,"tid":`...)
	e.b = strconv.AppendInt(e.b, tid, 10)
	e.b = append(e.b, `,"ts":`...)
	e.b = appendMicros(e.b, us, ps)
	e.b = append(e.b, `,"dur":`...)
	e.b = appendMicros(e.b, ev.Dur/psPerUS, ev.Dur%psPerUS)
	e.b = append(e.b, `,"name":`...)
	e.b = appendString(e.b, ev.Name)
	e.b = append(e.b, `,"args":{`...)
	long := false
	for i, s := range ev.Stats {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		long = long || s.Name == "long_name"
		e.b = appendString(e.b, s.Name)
		e.b = append(e.b, ':')
		e.b = appendString(e.b, s.String())
	}
	if !long && ev.DisplayName != "" {
		if len(ev.Stats) > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"long_name":`...)
		e.b = appendString(e.b, ev.DisplayName)
	}
	e.b = append(e.b, "}}"...)
	return nil
}

// planePID is the pid the TSL converter gives a plane.
func planePID(p *capture.Plane) int64 {
	if capture.IsHostPlane(p.Name) {
		return HostPID
	}
	return p.ID + 1
}

// lineTID is the tid the TSL converter gives a line: its display id, or
// its id.
func lineTID(l *capture.Line) int64 {
	if l.DisplayID != 0 {
		return l.DisplayID
	}
	return l.ID
}

// idleGaps returns the stretches of c.Span outside every window.
func idleGaps(c *capture.Capture) []capture.Interval {
	if c.Span.Len() <= 0 {
		return nil
	}
	var out []capture.Interval
	prev := c.Span.Start
	for _, w := range c.Windows {
		if w.Start > prev {
			out = append(out, capture.Interval{Start: prev, End: min(w.Start, c.Span.End)})
		}
		prev = max(prev, w.End)
	}
	if c.Span.End > prev {
		out = append(out, capture.Interval{Start: prev, End: c.Span.End})
	}
	return out
}

// formatDur formats a duration for people: "384.95 ms".
func formatDur(ps int64) string {
	switch {
	case ps < capture.Millisecond:
		return strconv.FormatFloat(float64(ps)/float64(capture.Microsecond), 'f', 2, 64) + " µs"
	case ps < 10*capture.Second:
		return strconv.FormatFloat(float64(ps)/float64(capture.Millisecond), 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(float64(ps)/float64(capture.Second), 'f', 3, 64) + " s"
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
