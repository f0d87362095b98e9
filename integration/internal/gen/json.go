package gen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes the capture as the TSL converter writes trace JSON:
// {"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[
// the M events naming processes and threads, then every X event (ts and dur
// in µs with six decimals, args as strings with sorted keys, the display
// name as long_name), and a closing {}]}. The X events come in the
// Config's Order.
func (c *Capture) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	jw := newJSONWriter(c)
	order := c.planeOrder(c.cfg.Order)
	b := []byte(`{"displayTimeUnit":"ns","metadata":{"highres-ticks":true},"traceEvents":[`)
	for _, p := range order {
		b = jw.appendMeta(b, p)
	}
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("gen: write json: %w", err)
	}
	emit := func(e *event) error {
		b = jw.appendEvent(b[:0], e)
		b = append(b, ',')
		_, err := bw.Write(b)
		return err
	}
	var err error
	if c.cfg.Order == Shuffled {
		var all []event
		err = c.walk(order, func(e *event) error { all = append(all, *e); return nil })
		if err == nil {
			r := rand.New(rand.NewPCG(c.seed, streamShuffle))
			r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			for i := range all {
				if err = emit(&all[i]); err != nil {
					break
				}
			}
		}
	} else {
		err = c.walk(order, emit)
	}
	if err == nil {
		_, err = bw.WriteString(`{}]}`)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("gen: write json: %w", err)
	}
	return nil
}

// jsonWriter holds each plane's and meta's JSON text, made once.
type jsonWriter struct {
	c      *Capture
	prefix [][]string // [plane][line]: `{"ph":"X","pid":P,"tid":T,"ts":`
	names  [][]string // [plane][meta]: `,"name":"…","args":{`
	args   [][][]arg  // [plane][meta]: the meta's args, sorted by key
	keys   [][]string // [plane][stat]: `"key":"`
}

// arg is one member of args, as JSON text.
type arg struct {
	key, text string
}

func newJSONWriter(c *Capture) *jsonWriter {
	jw := &jsonWriter{c: c}
	for _, p := range c.planes {
		var pre []string
		for _, l := range p.lines {
			pre = append(pre, fmt.Sprintf(`{"ph":"X","pid":%d,"tid":%d,"ts":`, p.pid, l.id))
		}
		jw.prefix = append(jw.prefix, pre)
		var names []string
		var args [][]arg
		for _, m := range p.metas {
			names = append(names, `,"name":`+quote(m.name)+`,"args":{`)
			var as []arg
			if m.display != "" {
				as = append(as, arg{"long_name", quote("long_name") + ":" + quote(m.display)})
			}
			for _, s := range m.stats {
				as = append(as, arg{p.stats[s.key], quote(p.stats[s.key]) + ":" + quote(statString(&p, s))})
			}
			slices.SortFunc(as, func(a, b arg) int { return strings.Compare(a.key, b.key) })
			args = append(args, as)
		}
		jw.names = append(jw.names, names)
		jw.args = append(jw.args, args)
		var keys []string
		for _, k := range p.stats {
			keys = append(keys, quote(k)+`:"`)
		}
		jw.keys = append(jw.keys, keys)
	}
	return jw
}

// statString formats a stat's value as the converter does.
func statString(p *plane, s stat) string {
	switch s.kind {
	case kindRef:
		return p.stats[s.ref]
	case kindInt:
		return strconv.FormatInt(s.i, 10)
	case kindUint:
		return strconv.FormatUint(s.u, 10)
	}
	return s.str
}

// appendMeta appends plane p's M events, each followed by a comma.
func (jw *jsonWriter) appendMeta(b []byte, p int) []byte {
	pl := &jw.c.planes[p]
	b = fmt.Appendf(b, `{"ph":"M","pid":%d,"name":"process_name","args":{"name":%s}},`, pl.pid, quote(pl.name))
	b = fmt.Appendf(b, `{"ph":"M","pid":%d,"name":"process_sort_index","args":{"sort_index":%d}},`, pl.pid, pl.pid)
	for _, l := range pl.lines {
		b = fmt.Appendf(b, `{"ph":"M","pid":%d,"tid":%d,"name":"thread_name","args":{"name":%s}},`, pl.pid, l.id, quote(l.name))
		b = fmt.Appendf(b, `{"ph":"M","pid":%d,"tid":%d,"name":"thread_sort_index","args":{"sort_index":%d}},`, pl.pid, l.id, l.sort)
	}
	return b
}

// appendEvent appends one X event.
func (jw *jsonWriter) appendEvent(b []byte, e *event) []byte {
	b = append(b, jw.prefix[e.plane][e.line]...)
	b = appendMicros(b, jw.c.cfg.StartNS, e.start)
	b = append(b, `,"dur":`...)
	b = appendMicros(b, 0, e.dur)
	b = append(b, jw.names[e.plane][e.meta]...)
	args := jw.args[e.plane][e.meta]
	own := ""
	if e.stat >= 0 {
		own = jw.c.planes[e.plane].stats[e.stat]
	}
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for _, a := range args {
		if own != "" && own < a.key {
			sep()
			b = jw.appendOwn(b, e)
			own = ""
		}
		sep()
		b = append(b, a.text...)
	}
	if own != "" {
		sep()
		b = jw.appendOwn(b, e)
	}
	return append(b, "}}"...)
}

// appendOwn appends the event's own stat as an arg.
func (jw *jsonWriter) appendOwn(b []byte, e *event) []byte {
	b = append(b, jw.keys[e.plane][e.stat]...)
	b = strconv.AppendInt(b, e.val, 10)
	return append(b, '"')
}

// appendMicros appends startNS + rel ps as µs with exactly six decimals.
func appendMicros(b []byte, startNS, rel int64) []byte {
	m := absMicros(startNS, rel)
	b = strconv.AppendInt(b, m.US, 10)
	b = append(b, '.')
	var frac [6]byte
	ps := m.PS
	for i := 5; i >= 0; i-- {
		frac[i] = byte('0' + ps%10)
		ps /= 10
	}
	return append(b, frac[:]...)
}

// quote returns s as a JSON string.
func quote(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, r)
		case r == utf8.RuneError:
			sb.WriteString(`\ufffd`)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
