package insight

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrSummaryFormat means stored summary bytes do not decode.
var ErrSummaryFormat = errors.New("insight: summary bytes do not decode")

// binaryVersion starts the binary encoding of a Summary.
const binaryVersion = 1

// AppendBinary appends s's compact binary encoding to dst: how the
// collector keeps summaries, because fleet reports and trends decode
// thousands of them (a JSON summary takes about 30 times longer to decode).
// Strings are uvarint lengths and bytes, integers varints, numbers 8 bytes
// little-endian; the first byte is the encoding's version.
func (s *Summary) AppendBinary(dst []byte) ([]byte, error) {
	e := encoder{b: dst}
	e.b = append(e.b, binaryVersion)
	e.int(int64(s.SchemaVersion))
	for _, v := range []string{s.CaptureID, s.AgentID, s.Host, s.Trigger, s.FleetID, s.ScheduleID, s.Committed, s.Status} {
		e.str(v)
	}
	e.int(s.CommittedNS)
	e.uint(uint64(len(s.Labels)))
	for _, p := range s.Labels {
		e.str(p.Key)
		e.str(p.Value)
	}
	o := s.Options
	e.str(o.Endpoint)
	e.str(o.BodySHA256)
	e.int(o.DurationMS)
	e.int(int64(o.Requests))
	e.int(int64(o.Warmups))
	e.int(o.NumSteps)
	e.str(s.BaselineKey)
	e.int(s.Requests)
	e.str(s.Per)
	e.float(s.SpanUS)
	e.int(int64(s.Devices))
	e.float(s.DeviceBusyUS)
	e.float(s.IdlePct)
	e.float(s.DeviceOpUS)
	e.optFloat(s.DeviceOpUSPerRequest)
	e.optFloat(s.DeviceOpUSPerSecond)
	e.bool(s.HasComponents)
	e.uint(uint64(len(s.Components)))
	for _, c := range s.Components {
		e.str(c.Name)
		e.float(c.US)
	}
	e.bool(s.OpsComplete)
	e.uint(uint64(len(s.Ops)))
	for _, op := range s.Ops {
		e.str(op.Operation)
		e.str(op.Type)
		e.float(op.US)
		e.int(op.Occurrences)
	}
	return e.b, nil
}

// UnmarshalBinary decodes what AppendBinary wrote; it also reads a
// summary's JSON (what the collector stored before the binary encoding).
func (s *Summary) UnmarshalBinary(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		*s = Summary{}
		if err := json.Unmarshal(b, s); err != nil {
			return fmt.Errorf("%w: %v", ErrSummaryFormat, err)
		}
		return nil
	}
	if len(b) == 0 || b[0] != binaryVersion {
		return fmt.Errorf("%w: unknown encoding", ErrSummaryFormat)
	}
	d := decoder{b: b[1:]}
	out := Summary{SchemaVersion: int(d.int())}
	for _, p := range []*string{&out.CaptureID, &out.AgentID, &out.Host, &out.Trigger, &out.FleetID, &out.ScheduleID, &out.Committed, &out.Status} {
		*p = d.str()
	}
	out.CommittedNS = d.int()
	out.Labels = make([]Pair, d.count(2))
	for i := range out.Labels {
		out.Labels[i] = Pair{Key: d.str(), Value: d.str()}
	}
	out.Options = Options{Endpoint: d.str(), BodySHA256: d.str(), DurationMS: d.int(), Requests: int32(d.int()), Warmups: int32(d.int()), NumSteps: d.int()}
	out.BaselineKey = d.str()
	out.Requests = d.int()
	out.Per = d.str()
	out.SpanUS = d.float()
	out.Devices = int(d.int())
	out.DeviceBusyUS = d.float()
	out.IdlePct = d.float()
	out.DeviceOpUS = d.float()
	out.DeviceOpUSPerRequest = d.optFloat()
	out.DeviceOpUSPerSecond = d.optFloat()
	out.HasComponents = d.bool()
	out.Components = make([]Figure, d.count(9))
	for i := range out.Components {
		out.Components[i] = Figure{Name: d.str(), US: d.float()}
	}
	out.OpsComplete = d.bool()
	out.Ops = make([]OpFigure, d.count(11))
	for i := range out.Ops {
		out.Ops[i] = OpFigure{Operation: d.str(), Type: d.str(), US: d.float(), Occurrences: d.int()}
	}
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrSummaryFormat, d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes left over", ErrSummaryFormat, len(d.b))
	}
	*s = out
	return nil
}

// encoder appends values.
type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) float(v float64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
}
func (e *encoder) str(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// optFloat writes a presence byte, then the number if present.
func (e *encoder) optFloat(v *float64) {
	e.bool(v != nil)
	if v != nil {
		e.float(*v)
	}
}

// decoder reads values; the first error sticks and later reads return
// zero values.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) str() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) < 1 {
		d.fail(errShort)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail(errors.New("bad bool"))
	}
	return v == 1
}

func (d *decoder) optFloat() *float64 {
	if !d.bool() {
		return nil
	}
	v := d.float()
	return &v
}

// count reads a list's length, bounded by the bytes left at least
// each bytes an entry, so garbage cannot make a huge allocation.
func (d *decoder) count(each int) int {
	n := d.uint()
	if n > uint64(len(d.b)/each) {
		d.fail(errShort)
		return 0
	}
	return int(n)
}
