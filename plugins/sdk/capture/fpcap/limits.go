package fpcap

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// ErrLimit means a capture costs more to decode than the reader's Limits
// allow. The error's text names the bound (its key in ParseLimits' syntax)
// and the value it would have taken; nothing past the bound is decoded.
var ErrLimit = errors.New("fpcap: capture exceeds a decoding limit")

// Defaults for Limits. They are far above what the trimmed captures of real
// profiles hold (BENCHMARKS.md) and keep one decoded capture under a few GiB.
const (
	// DefaultMaxPlanes bounds the planes of a capture.
	DefaultMaxPlanes = 256
	// DefaultMaxLines bounds the lines over every plane.
	DefaultMaxLines = 16384
	// DefaultMaxEvents bounds the kept events: the trace viewer's own
	// converter stops at 5,000,000 events.
	DefaultMaxEvents = 5_000_000
	// DefaultMaxStats bounds the stats over every event and plane.
	DefaultMaxStats = 20_000_000
	// DefaultMaxDropped bounds the dropped-event summaries.
	DefaultMaxDropped = 1_000_000
	// DefaultMaxStringBytes bounds one string or bytes value: a record's
	// bound, since XLA's metadata stats (HLO protos) can be MiBs.
	DefaultMaxStringBytes = MaxRecordBytes
	// DefaultMaxContext bounds the header's context entries.
	DefaultMaxContext = 256
	// DefaultMaxContextBytes bounds the header's context keys and values
	// together.
	DefaultMaxContextBytes = 16 << 10
	// DefaultMaxWarnings bounds the header's warnings.
	DefaultMaxWarnings = 1024
	// DefaultMaxRequests bounds the header's workload requests: twice what
	// an agent's workload may send while profiling.
	DefaultMaxRequests = 200_000
	// DefaultMaxDecodedBytes bounds the estimated size of the decoded
	// capture (see Limits.MaxDecodedBytes).
	DefaultMaxDecodedBytes = 4 << 30
	// DefaultMaxExpansion bounds the decoded size per byte read.
	DefaultMaxExpansion = 16
)

// expansionFloor is the input size below which the expansion bound is
// measured against this many bytes instead: a small capture may decode to a
// few MiB whatever its size.
const expansionFloor = 1 << 20

// Limits bound what decoding one capture may cost: counts, string sizes, the
// estimated size of the decoded capture, and that size per byte read (an
// empty event is 2 bytes on the wire and ~80 in memory). They are checked
// while a capture streams in, before each record is decoded, so a capture
// past a bound is refused after reading at most one record beyond it.
//
// A zero field takes its default; a negative one means no limit.
type Limits struct {
	// MaxPlanes bounds the planes. Zero means DefaultMaxPlanes.
	MaxPlanes int64
	// MaxLines bounds the lines over every plane. Zero means DefaultMaxLines.
	MaxLines int64
	// MaxEvents bounds the kept events. Zero means DefaultMaxEvents.
	MaxEvents int64
	// MaxStats bounds the stats over every event and plane. Zero means
	// DefaultMaxStats.
	MaxStats int64
	// MaxDropped bounds the dropped-event summaries. Zero means
	// DefaultMaxDropped.
	MaxDropped int64
	// MaxStringBytes bounds each string and bytes value (names, stat
	// values, warnings, context). Zero means DefaultMaxStringBytes.
	MaxStringBytes int64
	// MaxContext bounds the header's context entries. Zero means
	// DefaultMaxContext.
	MaxContext int64
	// MaxContextBytes bounds the context's keys and values together. Zero
	// means DefaultMaxContextBytes.
	MaxContextBytes int64
	// MaxWarnings bounds the header's warnings. Zero means
	// DefaultMaxWarnings.
	MaxWarnings int64
	// MaxRequests bounds the header's workload requests. Zero means
	// DefaultMaxRequests.
	MaxRequests int64
	// MaxDecodedBytes bounds the decoded capture's estimated size: each
	// plane, line, event, stat, dropped summary and window at the size of
	// its struct in package capture, plus every string's bytes. Zero means
	// DefaultMaxDecodedBytes.
	MaxDecodedBytes int64
	// MaxExpansion bounds the decoded size (as above) per byte read, once
	// 1 MiB has been read; for one record, the size its protobuf decoding
	// allocates per byte. Zero means DefaultMaxExpansion.
	MaxExpansion float64
}

// DefaultLimits returns the default Limits with every field set.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

// limitKeys lists the fields in ParseLimits' syntax, in String's order.
var limitKeys = []string{"planes", "lines", "events", "stats", "dropped", "string", "context", "context_bytes", "warnings", "requests", "decoded", "expansion"}

// field returns the count field named by key (ParseLimits' syntax).
func (l *Limits) field(key string) *int64 {
	switch key {
	case "planes":
		return &l.MaxPlanes
	case "lines":
		return &l.MaxLines
	case "events":
		return &l.MaxEvents
	case "stats":
		return &l.MaxStats
	case "dropped":
		return &l.MaxDropped
	case "string":
		return &l.MaxStringBytes
	case "context":
		return &l.MaxContext
	case "context_bytes":
		return &l.MaxContextBytes
	case "warnings":
		return &l.MaxWarnings
	case "requests":
		return &l.MaxRequests
	case "decoded":
		return &l.MaxDecodedBytes
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	def := map[string]int64{
		"planes": DefaultMaxPlanes, "lines": DefaultMaxLines, "events": DefaultMaxEvents, "stats": DefaultMaxStats,
		"dropped": DefaultMaxDropped, "string": DefaultMaxStringBytes, "context": DefaultMaxContext,
		"context_bytes": DefaultMaxContextBytes, "warnings": DefaultMaxWarnings, "requests": DefaultMaxRequests,
		"decoded": DefaultMaxDecodedBytes,
	}
	for k, v := range def {
		if p := l.field(k); *p == 0 {
			*p = v
		}
	}
	if l.MaxExpansion == 0 {
		l.MaxExpansion = DefaultMaxExpansion
	}
	return l
}

// String returns the limits in ParseLimits' syntax, every field with its
// default filled in ("-1" for none).
func (l Limits) String() string {
	l = l.withDefaults()
	parts := make([]string, 0, len(limitKeys))
	for _, k := range limitKeys {
		if k == "expansion" {
			parts = append(parts, k+"="+strconv.FormatFloat(max(l.MaxExpansion, -1), 'g', -1, 64))
			continue
		}
		parts = append(parts, k+"="+strconv.FormatInt(max(*l.field(k), -1), 10))
	}
	return strings.Join(parts, ",")
}

// ParseLimits reads limits written as comma-separated key=value pairs, e.g.
// "events=10000000,expansion=32". Keys: planes, lines, events, stats,
// dropped, string (bytes of one string), context (entries), context_bytes,
// warnings, requests, decoded (bytes), expansion (decoded bytes per byte
// read). Sizes
// take a KiB, MiB or GiB suffix; -1 means no limit; keys left out keep
// their defaults.
func ParseLimits(s string) (Limits, error) {
	var l Limits
	for kv := range strings.SplitSeq(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return l, fmt.Errorf("fpcap: limits: %q is not key=value", kv)
		}
		if k == "expansion" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || (f <= 0 && f != -1) {
				return l, fmt.Errorf("fpcap: limits: expansion=%s: want a positive number or -1", v)
			}
			l.MaxExpansion = f
			continue
		}
		p := l.field(k)
		if p == nil {
			return l, fmt.Errorf("fpcap: limits: unknown key %q (keys: %s)", k, strings.Join(limitKeys, ", "))
		}
		n, err := parseSize(v)
		if err != nil || (n <= 0 && n != -1) {
			return l, fmt.Errorf("fpcap: limits: %s=%s: want a positive number (KiB, MiB, GiB allowed) or -1", k, v)
		}
		*p = n
	}
	return l, nil
}

// parseSize reads an integer with an optional binary suffix.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = s, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > 0 && n > (1<<62)/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// Sizes of the decoded model's parts, as the estimate counts them.
var (
	sizeofPlane   = int64(reflect.TypeFor[capture.Plane]().Size()) + 8 // and its pointer
	sizeofLine    = int64(reflect.TypeFor[capture.Line]().Size()) + 8
	sizeofEvent   = int64(reflect.TypeFor[capture.Event]().Size())
	sizeofStat    = int64(reflect.TypeFor[capture.Stat]().Size())
	sizeofDropped = int64(reflect.TypeFor[capture.Dropped]().Size())
	sizeofWindow  = int64(reflect.TypeFor[capture.Interval]().Size())
	sizeofRequest = int64(reflect.TypeFor[capture.Request]().Size())
	sizeofEntry   = int64(48) // a map[string]string entry: two string headers and the map's share
	sizeofString  = int64(16) // a string header in a slice (warnings)
)

// Sizes of the protobuf messages decoding allocates, each with the pointer
// that holds it in its parent's slice.
var (
	protoHeader  = int64(reflect.TypeFor[capturev1.Header]().Size())
	protoPlane   = int64(reflect.TypeFor[capturev1.Plane]().Size()) + 8
	protoLine    = int64(reflect.TypeFor[capturev1.Line]().Size()) + 8
	protoBatch   = int64(reflect.TypeFor[capturev1.EventBatch]().Size())
	protoEvent   = int64(reflect.TypeFor[capturev1.Event]().Size()) + 8
	protoStat    = int64(reflect.TypeFor[capturev1.Stat]().Size()) + 8 + 24 // and its oneof wrapper
	protoDropped = int64(reflect.TypeFor[capturev1.Dropped]().Size()) + 8
	protoWindow  = int64(reflect.TypeFor[capturev1.Window]().Size()) + 8
	protoRequest = int64(reflect.TypeFor[capturev1.Request]().Size()) + 8
	protoRecord  = int64(reflect.TypeFor[capturev1.Record]().Size()) + 16
)

// counts is what a record adds to a capture, read from its wire form or
// from the decoded record: the model's parts and its string bytes.
type counts struct {
	planes, lines, events, stats, dropped int64
	windows, context, contextBytes        int64
	warnings, requests                    int64
	stringBytes                           int64 // every string and bytes value
	maxString                             int64 // the longest one
	proto                                 int64 // what protobuf decoding allocates (wire scans only)
}

// add adds o to c.
func (c *counts) add(o counts) {
	c.planes += o.planes
	c.lines += o.lines
	c.events += o.events
	c.stats += o.stats
	c.dropped += o.dropped
	c.windows += o.windows
	c.context += o.context
	c.contextBytes += o.contextBytes
	c.warnings += o.warnings
	c.requests += o.requests
	c.stringBytes += o.stringBytes
	c.maxString = max(c.maxString, o.maxString)
	c.proto += o.proto
}

// str counts one string or bytes value of n bytes.
func (c *counts) str(n int) {
	c.stringBytes += int64(n)
	c.maxString = max(c.maxString, int64(n))
}

// decoded is the estimated size of the decoded model holding c.
func (c *counts) decoded() int64 {
	return c.planes*sizeofPlane + c.lines*sizeofLine + c.events*sizeofEvent + c.stats*sizeofStat +
		c.dropped*sizeofDropped + c.windows*sizeofWindow + c.context*sizeofEntry + c.warnings*sizeofString +
		c.requests*sizeofRequest + c.stringBytes
}

// check returns an ErrLimit naming the first bound that total (a capture's
// counts so far) passes; read is the bytes read so far. rec, if not nil, is
// one record's counts from its wire form, of recBytes bytes, checked against
// the expansion bound on its own.
func (l *Limits) check(total *counts, read int64, rec *counts, recBytes int64) error {
	over := func(key string, got, limit int64, what string) error {
		if limit >= 0 && got > limit {
			return fmt.Errorf("%w: %s %d, the limit is %s=%d", ErrLimit, what, got, key, limit)
		}
		return nil
	}
	for _, c := range []struct {
		key        string
		got, limit int64
		what       string
	}{
		{"planes", total.planes, l.MaxPlanes, "planes"},
		{"lines", total.lines, l.MaxLines, "lines"},
		{"events", total.events, l.MaxEvents, "events"},
		{"stats", total.stats, l.MaxStats, "stats"},
		{"dropped", total.dropped, l.MaxDropped, "dropped-event summaries"},
		{"string", total.maxString, l.MaxStringBytes, "a string of bytes"},
		{"context", total.context, l.MaxContext, "context entries"},
		{"context_bytes", total.contextBytes, l.MaxContextBytes, "context bytes"},
		{"warnings", total.warnings, l.MaxWarnings, "warnings"},
		{"requests", total.requests, l.MaxRequests, "workload requests"},
		{"decoded", total.decoded(), l.MaxDecodedBytes, "decoded bytes (estimated)"},
	} {
		if err := over(c.key, c.got, c.limit, c.what); err != nil {
			return err
		}
	}
	if l.MaxExpansion < 0 {
		return nil
	}
	if d := total.decoded(); float64(d) > l.MaxExpansion*float64(max(read, expansionFloor)) {
		return fmt.Errorf("%w: %d bytes decode to %d (estimated), %.1f times as many; the limit is expansion=%g",
			ErrLimit, read, d, float64(d)/float64(max(read, 1)), l.MaxExpansion)
	}
	if rec != nil && float64(rec.proto) > l.MaxExpansion*float64(recBytes)+float64(protoRecord+protoHeader+protoPlane+protoBatch) {
		return fmt.Errorf("%w: a record of %d bytes decodes to %d (estimated), %.1f times as many; the limit is expansion=%g",
			ErrLimit, recBytes, rec.proto, float64(rec.proto)/float64(max(recBytes, 1)), l.MaxExpansion)
	}
	return nil
}

// Check tells whether a decoded capture is within l: its counts, strings and
// estimated size (not the expansion bound, which needs its wire form). A host
// calls it before sending a capture to plugins that apply the same limits.
func (l Limits) Check(c *capture.Capture) error {
	var n counts
	stats := func(ss []capture.Stat) {
		n.stats += int64(len(ss))
		for i := range ss {
			n.str(len(ss[i].Name))
			n.str(len(ss[i].Str))
			n.str(len(ss[i].Bytes))
		}
	}
	n.windows = int64(len(c.Windows))
	n.str(len(c.Source.Format))
	n.str(len(c.Source.Name))
	n.str(len(c.SpanFrom))
	n.warnings = int64(len(c.Warnings))
	for _, w := range c.Warnings {
		n.str(len(w))
	}
	n.context = int64(len(c.Context))
	for k, v := range c.Context {
		n.str(len(k))
		n.str(len(v))
		n.contextBytes += int64(len(k) + len(v))
	}
	n.requests = int64(len(c.Requests))
	for i := range c.Requests {
		n.str(len(c.Requests[i].ID))
		n.str(len(c.Requests[i].Endpoint))
		n.str(len(c.Requests[i].Err))
	}
	for _, p := range c.Planes {
		n.planes++
		n.str(len(p.Name))
		stats(p.Stats)
		for _, ln := range p.Lines {
			n.lines++
			n.str(len(ln.Name))
			n.str(len(ln.DisplayName))
			n.events += int64(len(ln.Events))
			for i := range ln.Events {
				e := &ln.Events[i]
				n.str(len(e.Name))
				n.str(len(e.DisplayName))
				stats(e.Stats)
			}
		}
	}
	n.dropped = int64(len(c.Dropped))
	for i := range c.Dropped {
		n.str(len(c.Dropped[i].Name))
	}
	return l.CheckTally(n.tally())
}
