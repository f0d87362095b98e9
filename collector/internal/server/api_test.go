package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// upload stores a capture as agent a would.
func upload(t *testing.T, c *collector, id string, cp *capture.Capture) []byte {
	t.Helper()
	data, sum := capturetest.Fpcap(cp)
	if _, err := agenttest.Upload(context.Background(), c.cc, agenttest.UploadSpec{CaptureID: id, AgentID: "manual-agent", Data: data, SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	return data
}

func exportBytes(t *testing.T, c *collector, id, format string) ([]byte, error) {
	t.Helper()
	stream, err := c.client.Export(context.Background(), &collectorv1.ExportRequest{CaptureId: id, Format: format})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return b.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if len(m.GetData()) > 1<<20 {
			t.Errorf("export message of %d bytes, want at most 1 MiB", len(m.GetData()))
		}
		b.Write(m.GetData())
	}
}

func TestExportAnalyzeGet(t *testing.T) {
	ctx := context.Background()
	c := startCollector(t, t.TempDir())
	us := capture.Microsecond
	cp := capturetest.Capture(1_770_000_000_000_000_000,
		capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: 0, Dur: 7 * us},
		capturetest.Op{TFOp: "jit(run)/attention/dot_general:dot_general", Start: 7 * us, Dur: 3 * us})
	data := upload(t, c, "manual-1", cp)

	g, err := c.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: "manual-1"})
	if err != nil {
		t.Fatal(err)
	}
	var s capture.Summary
	if err := json.Unmarshal(g.GetCapture().GetSummaryJson(), &s); err != nil {
		t.Fatal(err)
	}
	if g.GetCapture().GetTrigger() != "manual" || g.GetCapture().GetSizeBytes() != int64(len(data)) || s.DeviceOpEvents != 2 || s.SpanUS.US != 10 {
		t.Errorf("GetCapture = %v (summary %+v)", g.GetCapture(), s)
	}

	// fpcap: the bytes as uploaded.
	got, err := exportBytes(t, c, "manual-1", "fpcap")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("export fpcap: %v, equal %v", err, bytes.Equal(got, data))
	}
	// xplane.pb: reads back with the same ops.
	got, err = exportBytes(t, c, "manual-1", "xplane.pb")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h.xplane.pb")
	if err := os.WriteFile(path, got, 0o644); err != nil {
		t.Fatal(err)
	}
	xp, err := load.File(ctx, path, load.Options{})
	if err != nil {
		t.Fatalf("exported xplane does not read back: %v", err)
	}
	if n := xp.DeviceOpEvents(); n != 2 {
		t.Errorf("exported xplane has %d device ops, want 2", n)
	}
	// trace.json.gz: gzip of a JSON document.
	got, err = exportBytes(t, c, "manual-1", "trace.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || !json.Valid(raw) {
		t.Errorf("exported trace.json.gz: %v, valid JSON %v", err, json.Valid(raw))
	}
	if _, err := exportBytes(t, c, "manual-1", "pdf"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("export as pdf: %v, want InvalidArgument", err)
	}
	if _, err := exportBytes(t, c, "nope", "fpcap"); status.Code(err) != codes.NotFound {
		t.Errorf("export of an unknown capture: %v, want NotFound", err)
	}

	// Analyze with no plugins configured: the summary alone.
	an, err := c.client.Analyze(ctx, &collectorv1.AnalyzeRequest{CaptureId: "manual-1"})
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Summary capture.Summary `json:"summary"`
	}
	if err := json.Unmarshal(an.GetReportJson(), &rep); err != nil || rep.Summary.DeviceOpEvents != 2 {
		t.Errorf("Analyze report: %v, %+v", err, rep.Summary)
	}
	if _, err := c.client.Analyze(ctx, &collectorv1.AnalyzeRequest{CaptureId: "manual-1", Analyzers: []string{"nope"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Analyze with an unknown analyzer: %v, want InvalidArgument", err)
	}
	for _, f := range []string{"md", "html", "json"} {
		waitFor(t, func() bool {
			r, err := c.client.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: "manual-1", Format: f})
			return err == nil && len(r.GetFiles()) > 0 && len(r.GetFiles()[0].GetData()) > 0
		})
	}
	if _, err := c.client.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: "manual-1", Format: "pdf"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetReport as pdf: %v, want InvalidArgument", err)
	}

	// Diff of a capture with itself: no change anywhere.
	d, err := c.client.Diff(ctx, &collectorv1.DiffRequest{A: "manual-1", B: "manual-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Both ops are dot_general matmuls: one component under the default rules.
	if len(d.GetOps()) != 2 || len(d.GetComponents()) != 1 || d.GetComponents()[0].GetKey() != "matmul" || d.GetOps()[0].GetDelta() != 0 {
		t.Errorf("Diff(self) = %v", d)
	}
	if _, err := c.client.Diff(ctx, &collectorv1.DiffRequest{A: "manual-1", B: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Diff with an unknown capture: %v, want NotFound", err)
	}
}
