// Package tracejsonw writes a trimmed capture as Chrome trace JSON in the
// TSL converter's shape, which Perfetto and chrome://tracing open and the
// SDK's reader (plugins/sdk/capture/tracejson) reads back with exactly the
// kept events, with the idle stretches trimming removed marked.
package tracejsonw

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/tracejson"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Errors returned by this package.
var (
	// ErrBadTime is returned by Write for an event or idle stretch whose
	// time it cannot write: a negative duration, or a start before 1970.
	ErrBadTime = errors.New("tracejsonw: time cannot be written as trace JSON")
)

// Pids and tids that Write uses besides the planes' and lines' own.
const (
	// HostPID is the host plane's pid, as the TSL converter writes it.
	HostPID = 701
	// MarkerPID is the pid of the process named tracejson.SkipProcess,
	// which marks the idle stretches trimming removed and carries the
	// profiling session.
	MarkerPID = 0x7fff0000
	// markerTID is the marker thread's tid.
	markerTID = 1
	// sessionTID is the session thread's tid.
	sessionTID = 2
	// MarkerThread is the name of the marker thread.
	MarkerThread = "idle removed"
	// SessionThread is the name of the thread of the session event.
	SessionThread = "profiling session"
	// SessionCat is the cat of the event that records the profiling session,
	// as kineto writes it.
	SessionCat = "Trace"
	// SessionName is the name of the session event Write writes.
	SessionName = "fleetprof session"
	// maxID bounds the pids and tids Write takes from the capture: trace
	// viewers hold them in 32 bits.
	maxID = 1<<31 - 1
)

// Write writes a trimmed capture as TSL-style trace JSON:
//
//	{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[...,{}]}
//
// Every naming (M) event comes first, then the X events, plane by plane.
// Each plane is a process with its own pid, named by process_name and
// ordered by process_sort_index M events: the pid the TSL converter gives it
// (HostPID for /host:CPU, else plane.ID+1) when that is a positive 32-bit
// number no other plane took, else the smallest free one (real JAX GPU files
// give several planes id 0). Each line is a thread of its process: tid
// line.DisplayID (or its ID when that is 0) when that lies in [0, 2^31) and no
// other line of the plane took it, else the smallest free positive one
// (line ids may be 64-bit, negative or shared), named by a thread_name M
// event with its display name, or its name when it has none, as the TSL
// converter does. tracejson.Walk reads every plane and line back, in order,
// even those without events.
//
// Each kept event is an X event with ts and dur in microseconds with six
// decimals, computed exactly from c.BaseNS and the picosecond times; its
// stat named "cat" (kineto's category) as the top-level "cat"; its other
// stats as string args; and its display name as args.long_name when no
// stat holds one.
//
// Every idle stretch that trimming removed (between windows, and before the
// first and after the last within c.Span) becomes one slice named like
// "idle removed: 384.95 ms" on the "idle removed" thread of the process
// named tracejson.SkipProcess (which readers skip), so a person opening the
// file in Perfetto or chrome://tracing sees the cut. The slice is a pair of B and E events, not an X event, so
// that no reader of X events (fleetprof's included, in either of its ways of
// reading: TSL or kineto) takes it for an event. When c.Session is known, it is
// written on the same process as an X event with cat "Trace" (SessionCat)
// named "fleetprof session" (SessionName), the way kineto records its
// session, so that a reader restores it.
func Write(w io.Writer, c *capture.Capture) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	e := &encoder{w: bw, c: c}
	if err := e.all(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tracejsonw: write: %w", err)
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
	pids, tids := assignIDs(e.c)
	for i, p := range e.c.Planes {
		pid := pids[i]
		e.meta(pid, -1, "process_name", p.Name)
		e.sortIndex(pid, pid)
		for j, l := range p.Lines {
			name := l.DisplayName
			if name == "" {
				name = l.Name
			}
			e.meta(pid, tids[i][j], "thread_name", name)
		}
		if err := e.flush(); err != nil {
			return err
		}
	}
	gaps := idleGaps(e.c)
	session, hasSession := e.session()
	if len(gaps) > 0 || hasSession {
		e.meta(MarkerPID, -1, "process_name", tracejson.SkipProcess)
		e.sortIndex(MarkerPID, -1)
		if len(gaps) > 0 {
			e.meta(MarkerPID, markerTID, "thread_name", MarkerThread)
		}
		if hasSession {
			e.meta(MarkerPID, sessionTID, "thread_name", SessionThread)
		}
	}
	for i, p := range e.c.Planes {
		pid := pids[i]
		for j, l := range p.Lines {
			tid := tids[i][j]
			for k := range l.Events {
				if err := e.event(pid, tid, &l.Events[k]); err != nil {
					return fmt.Errorf("tracejsonw: write plane %q line %q event %d: %w", p.Name, l.Name, k, err)
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
		if err := e.marker(g); err != nil {
			return fmt.Errorf("tracejsonw: write idle marker: %w", err)
		}
	}
	if hasSession {
		if err := e.event(MarkerPID, sessionTID, &session); err != nil {
			return fmt.Errorf("tracejsonw: write session: %w", err)
		}
	}
	e.sep()
	e.b = append(e.b, "{}]}\n"...)
	return e.flush()
}

// marker writes the idle stretch g as a B and E pair on the marker thread.
func (e *encoder) marker(g capture.Interval) error {
	us, ps := e.c.AbsPS(g.Start)
	eus, eps := e.c.AbsPS(g.End)
	if us < 0 || g.End < g.Start {
		return fmt.Errorf("%w: idle stretch %d to %d ps lies before 1970", ErrBadTime, g.Start, g.End)
	}
	e.sep()
	e.b = append(e.b, `{"ph":"B","pid":`...)
	e.b = strconv.AppendInt(e.b, MarkerPID, 10)
	e.b = append(e.b, `,"tid":`...)
	e.b = strconv.AppendInt(e.b, markerTID, 10)
	e.b = append(e.b, `,"ts":`...)
	e.b = appendMicros(e.b, us, ps)
	e.b = append(e.b, `,"name":`...)
	e.b = appendString(e.b, "idle removed: "+formatDur(g.Len()))
	e.b = append(e.b, `,"args":{"note":"fleetprof removed this idle stretch; the events in it are summarised in the report, not kept"}}`...)
	e.sep()
	e.b = append(e.b, `{"ph":"E","pid":`...)
	e.b = strconv.AppendInt(e.b, MarkerPID, 10)
	e.b = append(e.b, `,"tid":`...)
	e.b = strconv.AppendInt(e.b, markerTID, 10)
	e.b = append(e.b, `,"ts":`...)
	e.b = appendMicros(e.b, eus, eps)
	e.b = append(e.b, '}')
	return nil
}

// session returns the session event, if the capture knows its session and
// it lies after 1970.
func (e *encoder) session() (capture.Event, bool) {
	s := e.c.Session
	if s.Len() <= 0 {
		return capture.Event{}, false
	}
	if us, _ := e.c.AbsPS(s.Start); us < 0 {
		return capture.Event{}, false
	}
	return capture.Event{
		Name:  SessionName,
		Start: s.Start,
		Dur:   s.Len(),
		Stats: []capture.Stat{
			{Name: ops.CatStat, Kind: capture.StatString, Str: SessionCat},
			{Name: "note", Kind: capture.StatString, Str: "the profiling session: the capture's idle time is counted over it"},
		},
	}, true
}

// assignIDs gives each plane a pid and each line a tid, as Write documents:
// the converter's own when valid and free (the host first, then the
// devices, then the rest), else the smallest free ones.
func assignIDs(c *capture.Capture) (pids []int64, tids [][]int64) {
	pids = make([]int64, len(c.Planes))
	used := map[int64]bool{MarkerPID: true}
	rank := func(p *capture.Plane) int {
		switch {
		case capture.IsHostPlane(p.Name):
			return 0
		case capture.IsDevicePlane(p.Name):
			return 1
		}
		return 2
	}
	for r := range 3 {
		for i, p := range c.Planes {
			if rank(p) != r {
				continue
			}
			pid := planePID(p)
			if pid > 0 && pid <= maxID && !used[pid] {
				pids[i], used[pid] = pid, true
			}
		}
	}
	next := int64(1)
	for i := range c.Planes {
		if pids[i] != 0 {
			continue
		}
		for used[next] {
			next++
		}
		pids[i], used[next] = next, true
	}
	tids = make([][]int64, len(c.Planes))
	for i, p := range c.Planes {
		tids[i] = make([]int64, len(p.Lines))
		taken := make(map[int64]bool, len(p.Lines))
		ok := make([]bool, len(p.Lines))
		for j, l := range p.Lines {
			if tid := lineTID(l); tid >= 0 && tid <= maxID && !taken[tid] {
				tids[i][j], ok[j], taken[tid] = tid, true, true
			}
		}
		next := int64(1)
		for j := range p.Lines {
			if ok[j] {
				continue
			}
			for taken[next] {
				next++
			}
			tids[i][j], taken[next] = next, true
		}
	}
	return pids, tids
}

func (e *encoder) flush() error {
	if _, err := e.w.Write(e.b); err != nil {
		return fmt.Errorf("tracejsonw: write: %w", err)
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
	e.b = appendMicros(e.b, ev.Dur/capture.Microsecond, ev.Dur%capture.Microsecond)
	e.b = append(e.b, `,"name":`...)
	e.b = appendString(e.b, ev.Name)
	cat := -1
	for i := range ev.Stats {
		if ev.Stats[i].Name == ops.CatStat {
			cat = i
			e.b = append(e.b, `,"cat":`...)
			e.b = appendString(e.b, ev.Stats[i].String())
			break
		}
	}
	e.b = append(e.b, `,"args":{`...)
	long, n := false, 0
	for i, s := range ev.Stats {
		if i == cat {
			continue
		}
		if n > 0 {
			e.b = append(e.b, ',')
		}
		n++
		long = long || s.Name == "long_name"
		e.b = appendString(e.b, s.Name)
		e.b = append(e.b, ':')
		e.b = appendString(e.b, s.String())
	}
	if !long && ev.DisplayName != "" {
		if n > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `"long_name":`...)
		e.b = appendString(e.b, ev.DisplayName)
	}
	e.b = append(e.b, "}}"...)
	return nil
}

// planePID is the pid the TSL converter gives a plane; Write uses it when
// it is free and fits in 32 bits.
func planePID(p *capture.Plane) int64 {
	if capture.IsHostPlane(p.Name) {
		return HostPID
	}
	return p.ID + 1
}

// lineTID is the tid the TSL converter gives a line: its display id, or
// its id; Write uses it when it is free and fits in 31 bits.
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

// appendMicros appends us.ps as a decimal number of microseconds with six
// decimals, exactly. us and ps must not be negative; ps is below 1,000,000.
func appendMicros(dst []byte, us, ps int64) []byte {
	dst = strconv.AppendInt(dst, us, 10)
	dst = append(dst, '.')
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + ps%10)
		ps /= 10
	}
	return append(dst, d[:]...)
}
