// Package xplanew writes a (small, trimmed) capture as an XSpace protobuf
// (`*.xplane.pb`) that XProf and TensorBoard open and the SDK's reader
// (plugins/sdk/capture/xplane) reads back.
package xplanew

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

// Errors returned by this package.
var (
	// ErrCapture is returned by Write for a capture it cannot represent.
	ErrCapture = errors.New("xplanew: capture cannot be written as an XSpace")
)

// Write writes a capture as an XSpace that XProf and TensorBoard open: each
// plane with its id, name and stats, each line with its ids and names, and
// each event with fresh metadata (one per distinct name and display name)
// and every stat on the event itself. A line's timestamp_ns is the capture's
// base plus its earliest event start, floored to the nanosecond, so every
// offset_ps is exact and not negative. Strings that are not valid UTF-8
// (which XSpace readers reject) have their bad bytes replaced by U+FFFD. The
// whole space is built in memory: Write is meant for trimmed captures.
//
// Planes may share an id (real JAX GPU files give several planes id 0) and
// lines may have any int64 id, negative ones included: both are written as
// they are. When the capture knows its profiling session (c.Session), the
// space records it as real profilers do, in the profile_start_time and
// profile_stop_time stats (uint64 nanoseconds since the epoch) of a plane
// named "Task Environment": the capture's own such plane when it has one
// without them, else a new plane (id 0) after the others. A Task Environment
// plane that already holds both stats keeps them.
func Write(w io.Writer, c *capture.Capture) error {
	space, err := toSpace(c)
	if err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(space)
	if err != nil {
		return fmt.Errorf("xplanew: write: marshal: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("xplanew: write: %w", err)
	}
	return nil
}

// toSpace converts a capture into an XSpace.
func toSpace(c *capture.Capture) (*xplanev1.XSpace, error) {
	space := &xplanev1.XSpace{}
	for _, w := range c.Warnings {
		space.Warnings = append(space.Warnings, utf8Valid(w))
	}
	sess, hasSess := sessionStats(c)
	for _, p := range c.Planes {
		if hasSess && p.Name == xplane.TaskEnvPlane {
			p = withSession(p, sess)
			hasSess = false
		}
		xp, err := toPlane(c.BaseNS, p)
		if err != nil {
			return nil, err
		}
		space.Planes = append(space.Planes, xp)
	}
	if hasSess {
		xp, err := toPlane(c.BaseNS, &capture.Plane{Name: xplane.TaskEnvPlane, Stats: sess})
		if err != nil {
			return nil, err
		}
		space.Planes = append(space.Planes, xp)
	}
	return space, nil
}

// sessionStats returns c.Session as the Task Environment stats, in
// nanoseconds since the epoch (floored), if it is known and lies after 1970.
func sessionStats(c *capture.Capture) ([]capture.Stat, bool) {
	if c.Session.Len() <= 0 {
		return nil, false
	}
	start, ok1 := add(c.BaseNS, floorDiv(c.Session.Start, capture.Nanosecond))
	stop, ok2 := add(c.BaseNS, floorDiv(c.Session.End, capture.Nanosecond))
	if !ok1 || !ok2 || start < 0 || stop <= start {
		return nil, false
	}
	return []capture.Stat{
		{Name: xplane.StartTimeStat, Kind: capture.StatUint, Uint: uint64(start)},
		{Name: xplane.StopTimeStat, Kind: capture.StatUint, Uint: uint64(stop)},
	}, true
}

// withSession returns p with the session stats added, unless it holds both
// already; p itself is not changed.
func withSession(p *capture.Plane, sess []capture.Stat) *capture.Plane {
	var haveStart, haveStop bool
	for _, s := range p.Stats {
		haveStart = haveStart || s.Name == xplane.StartTimeStat
		haveStop = haveStop || s.Name == xplane.StopTimeStat
	}
	if haveStart && haveStop {
		return p
	}
	q := *p
	q.Stats = nil
	for _, s := range p.Stats {
		if s.Name != xplane.StartTimeStat && s.Name != xplane.StopTimeStat {
			q.Stats = append(q.Stats, s)
		}
	}
	q.Stats = append(q.Stats, sess...)
	return &q
}

// add returns a+b and whether it did not overflow.
func add(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// planeWriter builds one plane's metadata tables.
type planeWriter struct {
	xp        *xplanev1.XPlane
	eventIDs  map[[2]string]int64
	statIDs   map[string]int64
	planeName string
}

func toPlane(baseNS int64, p *capture.Plane) (*xplanev1.XPlane, error) {
	pw := &planeWriter{
		xp: &xplanev1.XPlane{
			Id:            p.ID,
			Name:          utf8Valid(p.Name),
			EventMetadata: map[int64]*xplanev1.XEventMetadata{},
			StatMetadata:  map[int64]*xplanev1.XStatMetadata{},
		},
		eventIDs:  map[[2]string]int64{},
		statIDs:   map[string]int64{},
		planeName: p.Name,
	}
	pw.xp.Stats = pw.stats(p.Stats)
	for _, l := range p.Lines {
		xl, err := pw.line(baseNS, l)
		if err != nil {
			return nil, err
		}
		pw.xp.Lines = append(pw.xp.Lines, xl)
	}
	return pw.xp, nil
}

func (pw *planeWriter) line(baseNS int64, l *capture.Line) (*xplanev1.XLine, error) {
	xl := &xplanev1.XLine{
		Id:          l.ID,
		DisplayId:   l.DisplayID,
		Name:        utf8Valid(l.Name),
		DisplayName: utf8Valid(l.DisplayName),
		TimestampNs: baseNS,
	}
	if len(l.Events) == 0 {
		return xl, nil
	}
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range l.Events {
		e := &l.Events[i]
		if e.Dur < 0 {
			return nil, fmt.Errorf("%w: event %q on line %q of plane %q has a negative duration (%d ps)",
				ErrCapture, e.Name, l.Name, pw.planeName, e.Dur)
		}
		end, ok := add(e.Start, e.Dur)
		if !ok {
			return nil, fmt.Errorf("%w: event %q on line %q of plane %q ends past the int64 range",
				ErrCapture, e.Name, l.Name, pw.planeName)
		}
		first, last = min(first, e.Start), max(last, end)
	}
	// The line starts at its earliest event, floored to the nanosecond.
	startNS := first / capture.Nanosecond
	if first%capture.Nanosecond < 0 {
		startNS--
	}
	ts, ok := add(baseNS, startNS)
	if !ok {
		return nil, fmt.Errorf("%w: line %q of plane %q starts past the int64 range of nanoseconds",
			ErrCapture, l.Name, pw.planeName)
	}
	xl.TimestampNs = ts
	originPS := startNS * capture.Nanosecond // cannot overflow: |startNS| <= |first|/1000
	xl.DurationPs = last - originPS
	xl.Events = make([]*xplanev1.XEvent, len(l.Events))
	for i := range l.Events {
		e := &l.Events[i]
		xl.Events[i] = &xplanev1.XEvent{
			MetadataId: pw.eventMeta(e.Name, e.DisplayName),
			Data:       &xplanev1.XEvent_OffsetPs{OffsetPs: e.Start - originPS},
			DurationPs: e.Dur,
			Stats:      pw.stats(e.Stats),
		}
	}
	return xl, nil
}

// eventMeta returns the id of the metadata for a name and display name,
// adding it on first use. Ids start at 1.
func (pw *planeWriter) eventMeta(name, display string) int64 {
	k := [2]string{name, display}
	if id, ok := pw.eventIDs[k]; ok {
		return id
	}
	id := int64(len(pw.eventIDs) + 1)
	pw.eventIDs[k] = id
	pw.xp.EventMetadata[id] = &xplanev1.XEventMetadata{Id: id, Name: utf8Valid(name), DisplayName: utf8Valid(display)}
	return id
}

// statMeta returns the id of the stat metadata for a name, adding it on
// first use. Ids start at 1.
func (pw *planeWriter) statMeta(name string) int64 {
	if id, ok := pw.statIDs[name]; ok {
		return id
	}
	id := int64(len(pw.statIDs) + 1)
	pw.statIDs[name] = id
	pw.xp.StatMetadata[id] = &xplanev1.XStatMetadata{Id: id, Name: utf8Valid(name)}
	return id
}

func (pw *planeWriter) stats(in []capture.Stat) []*xplanev1.XStat {
	if len(in) == 0 {
		return nil
	}
	out := make([]*xplanev1.XStat, len(in))
	for i, s := range in {
		x := &xplanev1.XStat{MetadataId: pw.statMeta(s.Name)}
		switch s.Kind {
		case capture.StatInt:
			x.Value = &xplanev1.XStat_Int64Value{Int64Value: s.Int}
		case capture.StatUint:
			x.Value = &xplanev1.XStat_Uint64Value{Uint64Value: s.Uint}
		case capture.StatDouble:
			x.Value = &xplanev1.XStat_DoubleValue{DoubleValue: s.Double}
		case capture.StatBytes:
			x.Value = &xplanev1.XStat_BytesValue{BytesValue: s.Bytes}
		default:
			x.Value = &xplanev1.XStat_StrValue{StrValue: utf8Valid(s.Str)}
		}
		out[i] = x
	}
	return out
}

// utf8Valid returns s with any invalid UTF-8 replaced by U+FFFD.
func utf8Valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
