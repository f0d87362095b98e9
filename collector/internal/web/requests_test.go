package web

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

const usPS = capture.Microsecond

// twoWindows: a 1 ms span, windows 100..200 and 600..700 µs; r1 spans
// 150..650 µs (first byte at 640), r2 failed at 620..700.
func twoWindows() (capture.Interval, []capture.Interval, []capture.Request) {
	return capture.Interval{Start: 0, End: 1000 * usPS},
		[]capture.Interval{{Start: 100 * usPS, End: 200 * usPS}, {Start: 600 * usPS, End: 700 * usPS}},
		[]capture.Request{
			{ID: "r1", Endpoint: "/v1/score", Send: 150 * usPS, FirstByte: 640 * usPS, End: 650 * usPS, Status: 200},
			{ID: "r2", Endpoint: "/v1/score", Send: 620 * usPS, FirstByte: 700 * usPS, End: 700 * usPS, Err: "reset"},
		}
}

func TestRequestsSVG(t *testing.T) {
	span, windows, reqs := twoWindows()
	tests := []struct {
		name string
		zoom int
		want []string
	}{
		// Axis 60..990 px: three idle gaps of 18 px, each window 438 px.
		{"all windows", 0, []string{
			`<rect x="297.0" y="24.0" width="456.0"`, // r1: 150 µs → 297 px, 650 µs → 753 px
			`<rect x="78.0" y="58.0" width="438.0" height="18" fill="#2ca02c"><title>window 1: 0.100 ms to 0.200 ms (0.100 ms)</title>`,
			`<rect x="534.0" y="58.0" width="438.0"`, // window 2
			`fill="#d62728"`,                         // r2 failed
			`>400µs</text>`,                          // the idle gap between the windows
			`sent at 0.150 ms, first byte at 0.640 ms, ended at 0.650 ms (latency 0.500 ms, 200)`,
		}},
		// Window 2 alone, 60..990 px: r1 clamps to its start.
		{"zoomed", 2, []string{`<rect x="60.0" y="24.0" width="465.0"`, `window 2: 0.600 ms to 0.700 ms`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := string(RequestsSVG(span, windows, reqs, tt.zoom))
			if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
				t.Fatalf("not well-formed: %v\n%s", err, svg)
			}
			for _, w := range tt.want {
				if !strings.Contains(svg, w) {
					t.Errorf("SVG lacks %q:\n%s", w, svg)
				}
			}
			if tt.zoom > 0 && strings.Contains(svg, "window 1:") {
				t.Error("zoomed SVG draws window 1")
			}
		})
	}
}

// TestRequestsSVGMany: past the lane bound the rest is counted; a capture
// without windows draws its span.
func TestRequestsSVGMany(t *testing.T) {
	var reqs []capture.Request
	for i := range timelineLanes + 5 {
		reqs = append(reqs, capture.Request{ID: "r", Send: int64(i) * usPS, FirstByte: int64(i+1) * usPS, End: int64(i+1) * usPS, Status: 200})
	}
	svg := string(RequestsSVG(capture.Interval{End: 100 * usPS}, nil, reqs, 3))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg, "and 5 more requests") || strings.Count(svg, `fill="#1f77b4"`) != timelineLanes {
		t.Errorf("SVG of %d requests: want %d lanes and a count of the rest", len(reqs), timelineLanes)
	}
}

func TestCapturePageRequests(t *testing.T) {
	tu := newTestUI(t, nil)
	ctx := context.Background()
	cp := capturetest.Capture(1_770_000_000_000_000_000, capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: 100 * usPS, Dur: 20 * usPS})
	_, _, reqs := twoWindows()
	cp.Requests = append(reqs, capture.Request{ID: hostile, Endpoint: hostile, Send: 0, FirstByte: 1, End: 2, Err: hostile})
	data, sum := capturetest.Fpcap(cp)
	err := tu.db.Update(ctx, func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: "cap-r", AgentID: "tpu-1", Chunks: 1, Bytes: int64(len(data)), SHA256: sum}); err != nil {
			return err
		}
		if _, err := w.StageChunk("cap-r", 0, 0, data); err != nil {
			return err
		}
		return w.Commit(&store.Capture{ID: "cap-r", AgentID: "tpu-1", CreatedNS: time.Now().UnixNano(), SizeBytes: int64(len(data)), SHA256: sum})
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
		not  []string
	}{
		{"/captures/cap-r", []string{"Requests and device bursts", `aria-label="3 requests above 1 device windows"`, `<b>all windows</b>`, `href="/captures/cap-r?window=1#requests"`}, []string{"<script>"}},
		{"/captures/cap-r?window=1", []string{`<b>1</b>`, `href="/captures/cap-r#requests"`}, nil},
		{"/captures/cap-r?window=9", []string{`<b>all windows</b>`}, nil},
		{"/captures/cap-a", nil, []string{"Requests and device bursts"}},
	}
	for _, tt := range tests {
		resp, body := tu.get(t, tt.path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", tt.path, resp.StatusCode)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tt.path, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(body, w) {
				t.Errorf("GET %s has %q", tt.path, w)
			}
		}
	}
}
