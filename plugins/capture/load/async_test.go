package load

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// recorder is an indexer that notes every call, numbering planes and lines
// as trim.Indexer does (or wrongly, when skew is set), and fails at event
// failAt.
type recorder struct {
	calls  []string
	lines  []int
	skew   int
	failAt int
	events int
}

func (r *recorder) Base(ns int64) { r.calls = append(r.calls, fmt.Sprint("base ", ns)) }
func (r *recorder) Plane(p capture.PlaneInfo) int {
	r.calls = append(r.calls, "plane "+p.Name)
	r.lines = append(r.lines, 0)
	return len(r.lines) - 1 + r.skew
}
func (r *recorder) Line(plane int, l capture.LineInfo) int {
	r.calls = append(r.calls, fmt.Sprint("line ", plane, " ", l.Name))
	r.lines[plane]++
	return r.lines[plane] - 1
}
func (r *recorder) Event(e *capture.RawEvent) error {
	r.events++
	if r.events == r.failAt {
		return errors.New("indexer failed")
	}
	r.calls = append(r.calls, fmt.Sprint("event ", e.Plane, e.Line, " ", string(e.Name), " ", e.Start, e.Dur, e.Ref))
	return nil
}
func (r *recorder) Session(start, end int64) {
	r.calls = append(r.calls, fmt.Sprint("session ", start, end))
}
func (r *recorder) RenamePlane(plane int, name string) {
	r.calls = append(r.calls, fmt.Sprint("rename plane ", plane, " ", name))
}
func (r *recorder) RenameLine(plane, line int, name string) {
	r.calls = append(r.calls, fmt.Sprint("rename line ", plane, line, " ", name))
}

// feed makes the calls a reader would: two planes, lines, n events with
// names of every size (past a batch's name room), a session and renames.
func feed(v interface {
	indexer
}, n int) ([]string, error) {
	var want []string
	v.Base(42)
	want = append(want, "base 42")
	for p := range 2 {
		name := fmt.Sprint("/device:TPU:", p)
		if got := v.Plane(capture.PlaneInfo{Name: name}); got != p {
			return nil, fmt.Errorf("Plane = %d, want %d", got, p)
		}
		want = append(want, "plane "+name)
		for l := range 3 {
			if got := v.Line(p, capture.LineInfo{Name: fmt.Sprint("line", l)}); got != l {
				return nil, fmt.Errorf("Line = %d, want %d", got, l)
			}
			want = append(want, fmt.Sprint("line ", p, " line", l))
		}
	}
	v.Session(1, 2)
	want = append(want, "session 1 2")
	for i := range n {
		name := strings.Repeat("x", i%300) + fmt.Sprint(i)
		if i == n/2 {
			name = strings.Repeat("y", 100_000) // larger than a batch's names
		}
		e := capture.RawEvent{Plane: i % 2, Line: i % 3, Name: []byte(name), Start: int64(i), Dur: 7, Ref: capture.Ref{Off: int64(i) * 10, Len: 10}}
		if err := v.Event(&e); err != nil {
			return want, err
		}
		want = append(want, fmt.Sprint("event ", e.Plane, e.Line, " ", name, " ", e.Start, e.Dur, e.Ref))
		if i == n/3 {
			v.RenamePlane(1, "renamed")
			v.RenameLine(0, 2, "renamed line")
			want = append(want, "rename plane 1 renamed", "rename line 0 2 renamed line")
		}
	}
	return want, nil
}

func TestAsyncVisitorForwardsInOrder(t *testing.T) {
	var r recorder
	v := startAsync(context.Background(), &r)
	want, err := feed(v, 3*batchOps+17)
	if cerr := v.close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != len(want) {
		t.Fatalf("%d calls forwarded, want %d", len(r.calls), len(want))
	}
	for i := range want {
		if r.calls[i] != want[i] {
			t.Fatalf("call %d = %.80q, want %.80q", i, r.calls[i], want[i])
		}
	}
}

func TestAsyncVisitorErrors(t *testing.T) {
	// The indexer fails: the reader learns of it by a later call, or close.
	r := recorder{failAt: 100}
	v := startAsync(context.Background(), &r)
	_, err := feed(v, 5*batchOps)
	if cerr := v.close(); err == nil {
		err = cerr
	}
	if err == nil || err.Error() != "indexer failed" {
		t.Errorf("feeding a failing indexer = %v, want its error", err)
	}
	// The indexer numbers planes otherwise.
	v = startAsync(context.Background(), &recorder{skew: 1})
	_, err = feed(v, 10)
	if cerr := v.close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, errIndex) {
		t.Errorf("feeding a misnumbering indexer = %v, want errIndex", err)
	}
	// A line of an undeclared plane.
	v = startAsync(context.Background(), &recorder{})
	if got := v.Line(3, capture.LineInfo{Name: "x"}); got != -1 {
		t.Errorf("Line(undeclared plane) = %d, want -1", got)
	}
	if err := v.close(); err == nil {
		t.Error("close after a line of an undeclared plane: no error")
	}
	// Cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	v = startAsync(ctx, &recorder{})
	cancel()
	_, err = feed(v, 10*batchOps)
	if cerr := v.close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("feeding after cancel = %v, want context.Canceled", err)
	}
}
