package tracejson

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file is Walk's hot path: the traceEvents array, one event at a time,
// without building objects.

// fields are the byte ranges of an event's interesting values within the
// buffer; e == 0 means absent.
type fields struct {
	ph, pid, tid, ts, dur, name, args, cat span
	phEsc, nameEsc, tsEsc, durEsc, catEsc  bool
	// ts and dur as parsed while they were found (tsFast, durFast), when
	// they took parseTime's fast path.
	tsFast, durFast bool
	tsUS, tsPS      int64
	durUS, durPS    int64
}

type span struct{ s, e int }

func (x span) ok() bool { return x.e != 0 }

// events walks the traceEvents array; pos is just past its '['. depth is
// the array's depth.
func (w *walker) events(ctx context.Context, depth int) error {
	const (
		afterOpen = iota
		afterComma
		afterEvent
	)
	state := afterOpen
	for {
		b := w.buf[:w.end]
		i := skipWS(b, w.pos)
		if i >= len(b) {
			w.pos = i
			if err := w.more(ctx); err != nil {
				if w.bare && w.eof && ctx.Err() == nil {
					// A bare array may stop between events, unclosed.
					w.event = -1
					return nil
				}
				return err
			}
			continue
		}
		c := b[i]
		if state == afterEvent {
			switch c {
			case ',':
				w.pos = i + 1
				state = afterComma
				continue
			case ']':
				w.pos = i + 1
				w.event = -1
				return nil
			}
			return w.unexpected(b, i, "expected ',' or ']' after an event")
		}
		w.event = int(w.stats.Events)
		if c == ']' && state == afterOpen {
			w.pos = i + 1
			w.event = -1
			return nil
		}
		if c != '{' {
			return w.unexpected(b, i, "expected an event object")
		}
		end, err := w.parseEvent(b, i, depth+1)
		if err == errNeedMore {
			w.pos = i
			if err := w.more(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		w.stats.Events++
		if err := w.handle(b, i, end); err != nil {
			return err
		}
		w.pos = end
		state = afterEvent
	}
}

// parseEvent reads the event object at b[i], noting where its interesting
// values are, and returns the index just past it.
func (w *walker) parseEvent(b []byte, i, depth int) (int, error) {
	f := &w.f
	*f = fields{}
	if depth > w.maxDepth {
		return i, w.tooDeep(i)
	}
	if i = skipWS(b, i+1); i >= len(b) {
		return i, errNeedMore
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for {
		if b[i] != '"' {
			return i, w.unexpected(b, i, "expected a string key in an event")
		}
		ks := i + 1
		k, ke := knownKey(b, ks)
		var key []byte
		if k == keyOther {
			var esc, ok bool
			ke, esc, ok = scanShort(b, ks)
			if !ok {
				return ke, w.strErr(b, ke)
			}
			key = b[ks:ke]
			if esc {
				if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], key); !ok {
					return i, w.errAt(i, ErrMalformed, "bad escape in a key")
				}
				key = w.keyBuf
			}
			k = keyOf(key)
		}
		i = ke + 1
		if i < len(b) && b[i] == ':' {
			i++
		} else {
			if i = skipWS(b, i); i >= len(b) {
				return i, errNeedMore
			}
			if b[i] != ':' {
				return i, w.unexpected(b, i, "expected ':' after a key")
			}
			i++
		}
		if i >= len(b) || b[i] <= ' ' {
			if i = skipWS(b, i); i >= len(b) {
				return i, errNeedMore
			}
		}
		var err error
		switch k {
		case keyPh:
			i, err = w.stringField(b, i, depth+1, &f.ph, &f.phEsc)
		case keyName:
			i, err = w.stringField(b, i, depth+1, &f.name, &f.nameEsc)
		case keyCat:
			i, err = w.stringField(b, i, depth+1, &f.cat, &f.catEsc)
		case keyPid:
			i, err = w.numberField(b, i, depth+1, &f.pid, nil)
		case keyTid:
			i, err = w.numberField(b, i, depth+1, &f.tid, nil)
		case keyTs:
			if j, us, ps, ok := fastTime(b, i); ok {
				f.ts, f.tsEsc, f.tsFast, f.tsUS, f.tsPS = span{i, j}, false, true, us, ps
				i = j
				break
			}
			f.tsFast = false
			i, err = w.numberField(b, i, depth+1, &f.ts, &f.tsEsc)
		case keyDur:
			if j, us, ps, ok := fastTime(b, i); ok {
				f.dur, f.durEsc, f.durFast, f.durUS, f.durPS = span{i, j}, false, true, us, ps
				i = j
				break
			}
			f.durFast = false
			i, err = w.numberField(b, i, depth+1, &f.dur, &f.durEsc)
		case keyArgs:
			var j int
			j, err = w.skipValue(b, i, depth+1)
			f.args = span{i, j}
			i = j
		default:
			i, err = w.skipValue(b, i, depth+1)
		}
		if err != nil {
			return i, err
		}
		if i < len(b) && b[i] == ',' {
			i++
		} else {
			if i = skipWS(b, i); i >= len(b) {
				return i, errNeedMore
			}
			switch b[i] {
			case ',':
				i++
			case '}':
				return i + 1, nil
			default:
				return i, w.unexpected(b, i, "expected ',' or '}' after a value in an event")
			}
		}
		if i < len(b) && b[i] == '"' {
			continue
		}
		if i = skipWS(b, i); i >= len(b) {
			return i, errNeedMore
		}
	}
}

// keyKind names the event keys Walk reads.
type keyKind uint8

const (
	keyOther keyKind = iota
	keyPh
	keyName
	keyCat
	keyPid
	keyTid
	keyTs
	keyDur
	keyArgs
)

// keyOf returns the kind of an (unescaped) key.
func keyOf(key []byte) keyKind {
	switch string(key) {
	case "ph":
		return keyPh
	case "name":
		return keyName
	case "cat":
		return keyCat
	case "pid":
		return keyPid
	case "tid":
		return keyTid
	case "ts":
		return keyTs
	case "dur":
		return keyDur
	case "args":
		return keyArgs
	}
	return keyOther
}

// knownKey recognises, without scanning, the keys the TSL converter and
// kineto write, spelled plainly, in the key whose contents start at b[ks];
// it returns the key's kind and the index of its closing quote, or
// keyOther when the key is anything else (or b ends too soon to tell).
func knownKey(b []byte, ks int) (keyKind, int) {
	if ks+5 > len(b) {
		return keyOther, 0
	}
	c := b[ks : ks+5]
	switch c[0] {
	case 'p':
		if c[1] == 'h' && c[2] == '"' {
			return keyPh, ks + 2
		}
		if c[1] == 'i' && c[2] == 'd' && c[3] == '"' {
			return keyPid, ks + 3
		}
	case 't':
		if c[1] == 's' && c[2] == '"' {
			return keyTs, ks + 2
		}
		if c[1] == 'i' && c[2] == 'd' && c[3] == '"' {
			return keyTid, ks + 3
		}
	case 'd':
		if c[1] == 'u' && c[2] == 'r' && c[3] == '"' {
			return keyDur, ks + 3
		}
	case 'n':
		if c[1] == 'a' && c[2] == 'm' && c[3] == 'e' && c[4] == '"' {
			return keyName, ks + 4
		}
	case 'a':
		if c[1] == 'r' && c[2] == 'g' && c[3] == 's' && c[4] == '"' {
			return keyArgs, ks + 4
		}
	case 'c':
		if c[1] == 'a' && c[2] == 't' && c[3] == '"' {
			return keyCat, ks + 3
		}
	}
	return keyOther, 0
}

// fastTime parses the number at b[i] as parseTime's fast path would — up
// to 16 integer digits, and a point with 1 to 6 decimals — when it is
// followed by ',' or '}'; ok is false for anything else, which
// numberField and parseTime then read.
func fastTime(b []byte, i int) (end int, us, ps int64, ok bool) {
	// A 2026 timestamp: 16 digits, a point, 6 decimals, eight at a time.
	if i+25 <= len(b) && b[i+16] == '.' && (b[i+23] == ',' || b[i+23] == '}') {
		hi, ok1 := eightDigits(b[i:])
		lo, ok2 := eightDigits(b[i+8:])
		// The decimals and the two bytes after them, made digits.
		fr := binary.LittleEndian.Uint64(b[i+17:])&0x0000_ffff_ffff_ffff | 0x3030_0000_0000_0000
		frac, ok3 := eightDigitsOf(fr)
		if v := int64(hi*100_000_000 + lo); ok1 && ok2 && ok3 && v <= maxUS {
			return i + 23, v, int64(frac / 100), true
		}
	}
	j, n := i, min(len(b), i+16)
	for j < n {
		c := b[j] - '0'
		if c > 9 {
			break
		}
		us = us*10 + int64(c)
		j++
	}
	if j == i || us > maxUS || j >= len(b) {
		return 0, 0, 0, false
	}
	if b[j] == '.' {
		j++
		k, n := j, min(len(b), j+6)
		for j < n {
			c := b[j] - '0'
			if c > 9 {
				break
			}
			ps = ps*10 + int64(c)
			j++
		}
		if j == k || j >= len(b) {
			return 0, 0, 0, false
		}
		for d := j - k; d < 6; d++ {
			ps *= 10
		}
	}
	if b[j] != ',' && b[j] != '}' {
		return 0, 0, 0, false
	}
	return j, us, ps, true
}

// eightDigits parses the eight ASCII digits at the start of b, if they are
// all digits.
func eightDigits(b []byte) (uint64, bool) {
	return eightDigitsOf(binary.LittleEndian.Uint64(b))
}

// eightDigitsOf parses eight ASCII digits loaded little-endian (the first
// digit in the lowest byte), if they are all digits.
func eightDigitsOf(x uint64) (uint64, bool) {
	if (x&0xf0f0_f0f0_f0f0_f0f0)|((x+0x0606_0606_0606_0606)&0xf0f0_f0f0_f0f0_f0f0)>>4 != 0x3333_3333_3333_3333 {
		return 0, false
	}
	x = (x & 0x0f0f_0f0f_0f0f_0f0f) * 2561 >> 8
	x = (x & 0x00ff_00ff_00ff_00ff) * 6553601 >> 16
	return (x & 0x0000_ffff_0000_ffff) * 42949672960001 >> 32, true
}

// stringField notes the contents of the string at b[i].
func (w *walker) stringField(b []byte, i, depth int, sp *span, esc *bool) (int, error) {
	if b[i] != '"' {
		// Not a string: skip it, and the event is treated as not having it.
		*sp = span{}
		return w.skipValue(b, i, depth)
	}
	j, e, ok := scanString(b, i+1)
	if !ok {
		return j, w.strErr(b, j)
	}
	*sp, *esc = span{i + 1, j}, e
	return j + 1, nil
}

// numberField notes the number (or the contents of the string) at b[i].
func (w *walker) numberField(b []byte, i, depth int, sp *span, esc *bool) (int, error) {
	if b[i] == '"' {
		j, e, ok := scanString(b, i+1)
		if !ok {
			return j, w.strErr(b, j)
		}
		*sp = span{i + 1, j}
		if esc != nil {
			*esc = e
		}
		return j + 1, nil
	}
	if b[i]-'0' < 10 {
		// A number: its text is checked when it is parsed.
		j := i + 1
		for j < len(b) && (b[j]-'0' < 10 || b[j] == '.') {
			j++
		}
		if j < len(b) && b[j] != ',' && b[j] != '}' {
			for j < len(b) && isTokenByte(b[j]) {
				j++
			}
		}
		if j >= len(b) {
			return j, errNeedMore
		}
		*sp = span{i, j}
		return j, nil
	}
	j, err := w.skipValue(b, i, depth)
	*sp = span{i, j}
	return j, err
}

// handle acts on the event just parsed, b[start:end].
func (w *walker) handle(b []byte, start, end int) error {
	f := &w.f
	if !f.ph.ok() {
		return nil
	}
	ph := b[f.ph.s:f.ph.e]
	if f.phEsc {
		var ok bool
		if w.keyBuf, ok = appendUnescaped(w.keyBuf[:0], ph); !ok {
			return w.errAt(f.ph.s, ErrMalformed, "bad escape in ph")
		}
		ph = w.keyBuf
	}
	if len(ph) != 1 {
		if w.other == nil {
			w.other = make(map[string]int64)
		}
		w.other[string(ph)]++
		return nil
	}
	w.phases[ph[0]]++
	switch ph[0] {
	case 'X':
		return w.complete(b, start, end)
	case 'M':
		return w.meta(b)
	}
	return nil
}

// complete hands an X event to the visitor.
func (w *walker) complete(b []byte, start, end int) error {
	f := &w.f
	pid, err := w.idField(b, f.pid, "pid")
	if err != nil {
		return err
	}
	tid, err := w.idField(b, f.tid, "tid")
	if err != nil {
		return err
	}
	if f.cat.ok() || w.kineto != nil {
		kind, err := w.kinetoKind(b)
		if err != nil {
			return err
		}
		if kind == kindSession {
			return w.session(b)
		}
		if w.kineto != nil {
			return w.kinetoEvent(b, start, end, pid, tid, kind)
		}
	}
	if !w.declared {
		// The trace's M events come first: declare what they named, in
		// their order, before the first event.
		w.declared = true
		w.declareRest()
	}
	p, t := w.lastP, w.lastT
	if !w.lastOK || pid != w.lastPid || tid != w.lastTid {
		p, t = w.thread(pid, tid)
		w.lastOK, w.lastPid, w.lastTid, w.lastP, w.lastT = true, pid, tid, p, t
	}
	if t == nil {
		p.skipped++
		w.stats.Skipped++
		return nil
	}
	rel, dur, err := w.times(b, start)
	if err != nil {
		return err
	}
	return w.visit(b, start, end, p.idx, t.idx, rel, dur)
}

// times parses the ts and dur of the X event just parsed, setting the base
// time at the first one, and returns the start relative to the base and the
// duration, in picoseconds.
func (w *walker) times(b []byte, start int) (rel, dur int64, err error) {
	f := &w.f
	if !f.ts.ok() {
		return 0, 0, w.errAt(start, ErrBadTime, "complete (X) event without ts")
	}
	us, ps := f.tsUS, f.tsPS
	if !f.tsFast {
		us, ps, err = w.timeField(b, f.ts, f.tsEsc, "ts")
		if err != nil {
			return 0, 0, err
		}
	}
	if !w.haveBase {
		w.haveBase, w.baseUS = true, us
		w.v.Base(us * 1000)
	}
	d := us - w.baseUS
	if d > maxRelUS || d < -maxRelUS {
		return 0, 0, w.errAt(f.ts.s, ErrBadTime, fmt.Sprintf("ts %s lies more than %d µs from the first event's", b[f.ts.s:f.ts.e], int64(maxRelUS)))
	}
	if f.dur.ok() {
		dus, dps := f.durUS, f.durPS
		if !f.durFast {
			dus, dps, err = w.timeField(b, f.dur, f.durEsc, "dur")
			if err != nil {
				return 0, 0, err
			}
		}
		if dus > maxRelUS {
			return 0, 0, w.errAt(f.dur.s, ErrBadTime, fmt.Sprintf("dur %s is longer than %d µs", b[f.dur.s:f.dur.e], int64(maxRelUS)))
		}
		dur = dus*psPerUS + dps
	}
	return d*psPerUS + ps, dur, nil
}

// visit hands the X event just parsed, b[start:end], to the visitor on the
// given plane and line.
func (w *walker) visit(b []byte, start, end, plane, line int, rel, dur int64) error {
	f := &w.f
	var name []byte
	if f.name.ok() {
		name = b[f.name.s:f.name.e]
		if f.nameEsc {
			var ok bool
			if w.nameBuf, ok = appendUnescaped(w.nameBuf[:0], name); !ok {
				return w.errAt(f.name.s, ErrMalformed, "bad escape in name")
			}
			name = w.nameBuf
		}
	}
	ev := &w.ev
	ev.Plane, ev.Line = plane, line
	ev.Name = name
	ev.Start, ev.Dur = rel, dur
	ev.Ref = capture.Ref{Off: w.off + int64(start), Len: int64(end - start)}
	w.stats.X++
	return w.v.Event(ev)
}

// timeField parses a ts or dur value.
func (w *walker) timeField(b []byte, sp span, esc bool, field string) (us, ps int64, err error) {
	if esc {
		return 0, 0, w.errAt(sp.s, ErrBadTime, field+" is a string with escapes, not a number")
	}
	us, ps, what := parseTime(b[sp.s:sp.e])
	if what != "" {
		return 0, 0, w.errAt(sp.s, ErrBadTime, field+" "+what)
	}
	return us, ps, nil
}

// idField parses a pid or tid; an absent one is 0. Integers (as numbers or
// as strings of digits, "25738") are themselves; any other string ("Spans",
// "stream 7") gets an id of its own, the same for the same string, below
// every integer a trace uses.
func (w *walker) idField(b []byte, sp span, field string) (int64, error) {
	if !sp.ok() {
		return 0, nil
	}
	quoted := sp.s > 0 && b[sp.s-1] == '"'
	n, ok := parseID(b[sp.s:sp.e])
	if ok {
		return n, nil
	}
	if !quoted {
		return 0, w.errAt(sp.s, ErrMalformed, fmt.Sprintf("%s %s is not an integer or a string", field, quoteShort(b[sp.s:sp.e])))
	}
	raw := b[sp.s:sp.e]
	if id, ok := w.strIDs[string(raw)]; ok {
		return id, nil
	}
	text, err := w.text(b, sp.s-1, sp.e+1)
	if err != nil {
		return 0, err
	}
	if w.strIDs == nil {
		w.strIDs = make(map[string]int64)
		w.strNames = make(map[int64]string)
	}
	id := stringIDBase - int64(len(w.strIDs))
	w.strIDs[string(raw)] = id
	w.strNames[id] = text
	return id, nil
}

// stringIDBase is the id of the first string pid or tid; later ones count
// down from it.
const stringIDBase = -1 << 60

// parseID parses a decimal integer of at most 18 digits.
func parseID(t []byte) (int64, bool) {
	neg := len(t) > 0 && t[0] == '-'
	if neg {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range t {
		if c-'0' > 9 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// idName formats a pid or tid for a default name.
func (w *walker) idName(id int64) string {
	if s, ok := w.strNames[id]; ok {
		return s
	}
	return strconv.FormatInt(id, 10)
}
