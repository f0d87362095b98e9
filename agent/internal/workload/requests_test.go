package workload

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// httpDoer sends real requests, as the agent's sglang client does (with the
// context, so HTTP trace events reach the driver).
type httpDoer struct{ base string }

func (h httpDoer) Do(ctx context.Context, method, path string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestFirstByte(t *testing.T) {
	const stream = 60 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		time.Sleep(stream)
		_, _ = w.Write([]byte("data: [DONE]\n\n"))
	}))
	defer srv.Close()
	d, err := New(httpDoer{srv.URL}, Spec{Endpoint: "/generate", Requests: 2, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := d.Report()
	if len(r.Samples) != 2 {
		t.Fatalf("got %d samples, want 2", len(r.Samples))
	}
	for _, s := range r.Samples {
		if s.FirstByte <= 0 || s.Latency-s.FirstByte < stream/2 {
			t.Errorf("sample %d: first byte after %v, end after %v; want the first byte at least %v before the end",
				s.Seq, s.FirstByte, s.Latency, stream/2)
		}
	}
	first := slices.MinFunc(r.Samples, func(a, b Sample) int { return a.Start.Compare(b.Start) }).Start
	base := first.Add(-time.Second).UnixNano()
	reqs := r.Requests(base)
	for _, q := range reqs {
		if !(q.Send >= capture.Second && q.Send < q.FirstByte && q.FirstByte < q.End && q.OK()) {
			t.Errorf("request %+v: want sent 1 s or more after the base, then its first byte, then its end, answered 200", q)
		}
	}
}

// TestFirstByteWithoutTrace: a Doer that sends no HTTP trace events gets
// its first byte at its end.
func TestFirstByteWithoutTrace(t *testing.T) {
	d, err := New(&fakeDoer{code: 200, delay: 5 * time.Millisecond}, Spec{Endpoint: "/v1/score", Warmups: 1, Requests: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Warmup(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := d.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := d.Report()
	var seqs []int
	for _, s := range r.Samples {
		if s.FirstByte != s.Latency {
			t.Errorf("sample %d: first byte %v, latency %v; want them equal", s.Seq, s.FirstByte, s.Latency)
		}
		if !s.Warmup {
			seqs = append(seqs, s.Seq)
		}
	}
	slices.Sort(seqs)
	if want := []int{1, 2, 3}; !slices.Equal(seqs, want) {
		t.Errorf("profiled seqs = %v, want %v", seqs, want)
	}
	if got := r.Requests(r.Samples[0].Start.UnixNano()); len(got) != 3 {
		t.Errorf("Requests = %d, want 3 (the warm-up left out)", len(got))
	}
}

func TestRequests(t *testing.T) {
	base := time.Unix(1_770_000_000, 500) // ns since the epoch
	at := func(ns int64) time.Time { return base.Add(time.Duration(ns)) }
	r := Report{Endpoint: "/v1/score", Samples: []Sample{
		{Seq: 2, Start: at(3_000), FirstByte: 400, Latency: 1_000, Status: 200},
		{Seq: 1, Warmup: true, Start: at(-9_000), FirstByte: 10, Latency: 10, Status: 200},
		{Seq: 1, Start: at(1_000), FirstByte: 2_500, Latency: 2_500, Status: 500},
		{Seq: 3, Start: at(2_000), FirstByte: 700, Latency: 700, Err: "context deadline exceeded"},
	}}
	got := r.Requests(base.UnixNano())
	ns := capture.Nanosecond
	want := []capture.Request{
		{ID: "r1", Endpoint: "/v1/score", Send: 1_000 * ns, FirstByte: 3_500 * ns, End: 3_500 * ns, Status: 500},
		{ID: "r2", Endpoint: "/v1/score", Send: 3_000 * ns, FirstByte: 3_400 * ns, End: 4_000 * ns, Status: 200},
		{ID: "r3", Endpoint: "/v1/score", Send: 2_000 * ns, FirstByte: 2_700 * ns, End: 2_700 * ns, Err: "context deadline exceeded"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Requests (-want +got):\n%s", diff)
	}
	if len(Report{}.Requests(0)) != 0 {
		t.Error("Requests of an empty report is not empty")
	}
}

func TestRequestsFarFromBase(t *testing.T) {
	base := time.Unix(1_770_000_000, 0)
	r := Report{Endpoint: "/v1/score", Profiled: 3, Samples: []Sample{
		{Seq: 1, Start: base.Add(MaxSkew + time.Second), Latency: time.Millisecond},
		{Seq: 2, Start: base.Add(-MaxSkew - time.Second), Latency: time.Millisecond},
		{Seq: 3, Start: base.Add(MaxSkew), Latency: time.Millisecond, Status: 200},
	}}
	got := r.Requests(base.UnixNano())
	if len(got) != 1 || got[0].ID != "r3" || got[0].Send != int64(MaxSkew)*capture.Nanosecond {
		t.Errorf("Requests = %+v, want only r3, sent %v after the base", got, MaxSkew)
	}
}
