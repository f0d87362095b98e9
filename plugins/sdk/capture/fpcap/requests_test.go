package fpcap

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// withRequests is sample() with a workload's requests: one answered, one
// that got no answer.
func withRequests() *capture.Capture {
	c := sample()
	c.Requests = []capture.Request{
		{ID: "r1", Endpoint: "/v1/score", Send: 5, FirstByte: 150, End: 160, Status: 200},
		{ID: "r2", Endpoint: "/v1/score", Send: 90, FirstByte: 300, End: 300, Err: "connection reset"},
	}
	return c
}

func TestRequestsRoundTrip(t *testing.T) {
	c := withRequests()
	got := roundTrip(t, c)
	if diff := cmp.Diff(c.Requests, got.Requests); diff != "" {
		t.Errorf("requests after a round trip (-want +got):\n%s", diff)
	}
	if err := DefaultLimits().Check(got); err != nil {
		t.Errorf("Check(round trip) = %v, want nil", err)
	}
}

func TestRequestsMalformed(t *testing.T) {
	tests := []struct {
		name string
		req  capture.Request
	}{
		{"ends before it is sent", capture.Request{ID: "r1", Send: 100, FirstByte: 100, End: 50}},
		{"first byte before it is sent", capture.Request{ID: "r1", Send: 100, FirstByte: 90, End: 150}},
		{"first byte after its end", capture.Request{ID: "r1", Send: 100, FirstByte: 200, End: 150}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sample()
			c.Requests = []capture.Request{tt.req}
			var buf bytes.Buffer
			if err := Write(&buf, c); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(&buf); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), `"r1"`) {
				t.Errorf("Read(%+v) = %v, want ErrMalformed naming the request", tt.req, err)
			}
		})
	}
}

func TestRequestsLimit(t *testing.T) {
	c := withRequests()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	in := buf.Bytes()
	tests := []struct {
		name string
		lim  Limits
		ok   bool
	}{
		{"at the bound", Limits{MaxRequests: 2}, true},
		{"over the bound", Limits{MaxRequests: 1}, false},
		{"no bound", Limits{MaxRequests: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadWith(bytes.NewReader(in), Options{Limits: tt.lim})
			if tt.ok && err != nil {
				t.Fatalf("ReadWith(%v) = %v, want it read", tt.lim, err)
			}
			if !tt.ok && (!errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "requests=1")) {
				t.Fatalf("ReadWith(%v) = %v, want ErrLimit naming requests=1", tt.lim, err)
			}
			if err := tt.lim.Check(c); (err == nil) != tt.ok {
				t.Errorf("Limits%+v.Check = %v, want ok=%v", tt.lim, err, tt.ok)
			}
			// The plugin side, with decoded records, agrees.
			b := NewBuilderWith(Options{Limits: tt.lim})
			var aerr error
			for rec, rerr := range records(t, in) {
				if rerr != nil {
					t.Fatal(rerr)
				}
				if aerr = b.Add(rec); aerr != nil {
					break
				}
			}
			if (aerr == nil) != tt.ok {
				t.Errorf("Builder.Add with %v = %v, want ok=%v", tt.lim, aerr, tt.ok)
			}
		})
	}
	if _, err := ParseLimits("requests=10"); err != nil {
		t.Errorf(`ParseLimits("requests=10") = %v`, err)
	}
}

func TestReadHeader(t *testing.T) {
	c := withRequests()
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	full := buf.Len()
	// The header alone is enough: cut the file after it.
	h, err := ReadHeader(bytes.NewReader(buf.Bytes()[:full/2]))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Planes) != 0 || h.BaseNS != c.BaseNS || !cmp.Equal(h.Windows, c.Windows) || !cmp.Equal(h.Requests, c.Requests) || h.Context["host"] != "h" {
		t.Errorf("ReadHeader = %+v", h)
	}
	if _, err := ReadHeader(strings.NewReader("not a capture")); !errors.Is(err, ErrNotFpcap) {
		t.Errorf("ReadHeader(garbage) = %v, want ErrNotFpcap", err)
	}
	if _, err := ReadHeader(bytes.NewReader(buf.Bytes()[:len(Magic)+3])); !errors.Is(err, ErrTruncated) {
		t.Errorf("ReadHeader(cut) = %v, want ErrTruncated", err)
	}
}
