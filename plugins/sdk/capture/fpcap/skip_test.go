package fpcap

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// readBoth reads b keeping the events and skipping them, and fails t unless
// both agree: the same error, or the same count of events and Tally.
func readBoth(t *testing.T, b []byte, lim Limits) {
	t.Helper()
	full := NewBuilderWith(Options{Limits: lim})
	skip := NewBuilderWith(Options{Limits: lim, SkipEvents: true})
	keptFull, _, errFull := readWith(b, full)
	keptSkip, _, errSkip := readWith(b, skip)
	if fmt.Sprint(errFull) != fmt.Sprint(errSkip) {
		t.Fatalf("read = %v, with SkipEvents %v", errFull, errSkip)
	}
	if errFull != nil {
		return
	}
	if keptFull != keptSkip {
		t.Errorf("kept %d events, with SkipEvents %d", keptFull, keptSkip)
	}
	if diff := cmp.Diff(full.Tally(), skip.Tally()); diff != "" {
		t.Errorf("Tally with SkipEvents differs (-full +skip):\n%s", diff)
	}
}

// readWith is read with a given Builder, for the tests' Tally.
func readWith(b []byte, bl *Builder) (int64, *Builder, error) {
	walkErr := EachRecord(b, bl.addWire)
	if walkErr != nil {
		return 0, bl, walkErr
	}
	return bl.EventsKept(), bl, nil
}

// frame writes records as an .fpcap file.
func frame(recs ...[]byte) []byte {
	out := []byte(Magic)
	for _, r := range recs {
		out = protowire.AppendBytes(out, r)
	}
	return out
}

// sampleWires returns the wire forms of the sample's records.
func sampleWires(t testing.TB) [][]byte {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	if err := EachRecord(buf.Bytes(), func(w []byte) error { out = append(out, w); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSkipEventsAgrees(t *testing.T) {
	recs := sampleWires(t)
	var events []int // the event batches' indexes
	for i, r := range recs {
		if protowire.Number(r[0]>>3) == 3 {
			events = append(events, i)
		}
	}
	if len(events) != 2 {
		t.Fatalf("sample has %d event batches, want 2", len(events))
	}
	// The batches fpcap writes are counted without decoding.
	b := NewBuilderWith(Options{SkipEvents: true})
	for i, w := range recs[:len(recs)-2] {
		rec := &capturev1.Record{}
		if err := b.Admit(w); err != nil {
			t.Fatal(err)
		}
		if fast := b.addEventsWire(w); fast != (i == events[0] || i == events[1]) {
			t.Errorf("record %d: addEventsWire = %v", i, fast)
		} else if fast {
			continue
		}
		if err := proto.Unmarshal(w, rec); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(rec); err != nil {
			t.Fatal(err)
		}
	}
	with := func(i int, wire []byte) []byte {
		rs := append([][]byte(nil), recs...)
		rs[i] = wire
		return frame(rs...)
	}
	batch := func(fields ...[]byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), bytes.Join(fields, nil))
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), s)
	}
	event := func(fields ...[]byte) []byte { return str(3, string(bytes.Join(fields, nil))) }
	stat := func(fields ...[]byte) []byte { return str(6, string(bytes.Join(fields, nil))) }
	i := events[0] // plane 0, line 0: one event
	for name, b := range map[string][]byte{
		"as written":             frame(recs...),
		"bad utf-8 name":         with(i, batch(event(str(1, "\xff"), varint(4, 1)))),
		"bad utf-8 stat":         with(i, batch(event(varint(4, 1), stat(str(1, "n"), str(5, "\xfe"))))),
		"bytes stat not utf-8":   with(i, batch(event(varint(4, 1), stat(str(1, "n"), str(6, "\xfe"))))),
		"negative duration":      with(i, batch(event(str(1, "x"), varint(4, 1<<63)))),
		"undeclared line":        with(i, batch(varint(2, 9), event(varint(4, 1)))),
		"undeclared plane":       with(i, batch(varint(1, 1<<32), event(varint(4, 1)))),
		"plane wraps to int32":   with(i, batch(varint(1, 1<<32), varint(2, 0), event(varint(4, 1)))),
		"duplicate duration":     with(i, batch(event(varint(4, 1<<63), varint(4, 1)))),
		"duplicate name":         with(i, batch(event(str(1, "a"), str(1, "bb"), varint(4, 1)))),
		"two stat values":        with(i, batch(event(varint(4, 1), stat(str(1, "n"), str(5, "long value"), varint(3, 1))))),
		"name as varint":         with(i, batch(event(varint(1, 7), varint(4, 1)))),
		"unknown event field":    with(i, batch(event(varint(4, 1), varint(9, 1)))),
		"unknown record field":   with(i, append(batch(event(varint(4, 1))), varint(7, 1)...)),
		"two events fields":      with(i, append(batch(event(varint(4, 1))), batch(event(varint(4, 2)))...)),
		"empty batch":            with(i, batch()),
		"two events":             with(i, batch(event(varint(4, 1)), event(varint(4, 2)))),
		"truncated event":        with(i, batch(event(varint(4, 1))[:3])),
		"batch after the footer": frame(append(recs, recs[i])...),
	} {
		t.Run(name, func(t *testing.T) {
			readBoth(t, b, Limits{})
			readBoth(t, b, Limits{MaxEvents: 2, MaxStringBytes: 4})
		})
	}
}

func FuzzSkipEvents(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		readBoth(t, b, Limits{})
	})
}

func TestEachRecord(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	var got [][]byte
	if err := EachRecord(append(bytes.Clone(data), "trailing"...), func(w []byte) error { got = append(got, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frame(got...), data) {
		t.Errorf("EachRecord's records framed again differ from the file")
	}
	c, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	_ = Records(c, func(*capturev1.Record) error { want++; return nil })
	if len(got) != want {
		t.Errorf("EachRecord gave %d records, Records %d", len(got), want)
	}
	for i := range len(data) {
		if err := EachRecord(data[:i], func([]byte) error { return nil }); err == nil {
			t.Fatalf("EachRecord(first %d of %d bytes) succeeded", i, len(data))
		}
	}
	stop := errors.New("stop")
	if err := EachRecord(data, func([]byte) error { return stop }); err != stop {
		t.Errorf("EachRecord returned %v, want fn's error", err)
	}
}

func TestCheckTally(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	tally, c, err := ReadTally(bytes.NewReader(buf.Bytes()), Options{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := sample().EventsKept(); tally.Events != want || c.EventsKept() != 0 {
		t.Errorf("ReadTally(SkipEvents) counted %d events (capture holds %d), want %d (and 0)", tally.Events, c.EventsKept(), want)
	}
	for _, lim := range []Limits{{}, {MaxEvents: 2}, {MaxStats: 5}, {MaxStringBytes: 20}, {MaxDecodedBytes: 1000}, {MaxContext: -1, MaxPlanes: 1}} {
		if got, want := lim.CheckTally(tally), lim.Check(sample()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("CheckTally(%+v) = %v, Check = %v", lim, got, want)
		}
	}
}
