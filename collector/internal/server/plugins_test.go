package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestPluginsAllowlistThroughConfig runs a collector whose --plugins folder
// holds two executables that would leave a mark if run: one missing from
// plugins.sha256, one listed with another checksum. Neither runs; the
// report names both as refused.
func TestPluginsAllowlistThroughConfig(t *testing.T) {
	ctx := context.Background()
	plugins, marks := t.TempDir(), t.TempDir()
	script := func(name string) []byte {
		return fmt.Appendf(nil, "#!/bin/sh\ntouch %s\n", filepath.Join(marks, name))
	}
	for _, name := range []string{"unlisted", "tampered"} {
		if err := os.WriteFile(filepath.Join(plugins, name), script(name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	other := sha256.Sum256([]byte("the binary that was reviewed"))
	if err := os.WriteFile(filepath.Join(plugins, "plugins.sha256"), fmt.Appendf(nil, "%x  tampered\n", other), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := runServer(t, Config{
		Listen: "127.0.0.1:0", HTTP: "-", DataDir: t.TempDir(), Insecure: true, NoSync: true,
		PluginsDir: plugins, Registry: prometheus.NewRegistry(),
	})
	cc, err := agenttest.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "x:y", Dur: capture.Microsecond}))
	if _, err := agenttest.Upload(ctx, cc, agenttest.UploadSpec{CaptureID: "c-1", AgentID: "a", Data: data, SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	client := collectorv1.NewCollectorServiceClient(cc)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: "c-1"})
		if err != nil {
			t.Fatal(err)
		}
		if st := c.GetCapture().GetStatus(); st != "committed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("capture not analyzed within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep, err := client.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: "c-1", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	js := rep.GetFiles()[0].GetData()
	for _, want := range []string{"unlisted is not listed", "tampered has sha256"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("report does not say %q", want)
		}
	}
	for _, name := range []string{"unlisted", "tampered"} {
		if _, err := os.Stat(filepath.Join(marks, name)); err == nil {
			t.Errorf("plugin %s ran", name)
		}
	}
}
