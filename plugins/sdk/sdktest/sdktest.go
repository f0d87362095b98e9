// Package sdktest runs an analyzer in a test the way a host runs it: served
// by go-plugin over gRPC, fed the capture in chunks of fpcap records, its
// section sent back and checked. Only the process boundary is missing: the
// plugin is served in-process.
//
//	func TestMine(t *testing.T) {
//		sec := sdktest.Run(t, mine{}, "testdata/x.xplane.pb", nil)
//		// check sec.Rows ...
//	}
package sdktest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Timeout bounds each call Run and RunCapture make.
const Timeout = 2 * time.Minute

// Run loads the capture at path (any input fleetprof reads: .xplane.pb,
// .trace.json(.gz), .fpcap or a run folder, with default trimming), runs a
// on it over the plugin path with opts, and returns its section. Any error,
// from loading to an invalid section, fails the test.
func Run(t testing.TB, a sdk.Analyzer, path string, opts map[string]string) *sdk.Section {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := load.File(ctx, path, load.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return RunCapture(t, a, c, opts)
}

// RunCapture runs a on c over the plugin path with opts and returns its
// section. Any error fails the test.
func RunCapture(t testing.TB, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cl := Start(t, a, 0)
	if _, err := cl.Info(ctx); err != nil {
		t.Fatalf("Info: %v", err)
	}
	sec, err := cl.Analyze(ctx, c, opts)
	if err != nil {
		t.Fatalf("Analyze: %v", err)
	}
	return sec
}

// Start serves a in-process and returns a host's client for it, to test
// what Run does not show: errors, cancellation, small chunk sizes. chunkBytes
// bounds the capture chunks; zero means sdk.DefaultChunkBytes. The plugin's
// logs (Input.Log, Info and above) go to t.Log. Everything stops when the
// test ends.
func Start(t testing.TB, a sdk.Analyzer, chunkBytes int) *sdk.Client {
	t.Helper()
	tw := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg := sdk.ServeConfig(a, log)
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)

	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-closed:
		cancel()
		t.Fatalf("sdktest: the plugin server stopped before serving (see the log)")
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("sdktest: the plugin server did not start in 30s")
	}
	// The server runs in this process: waiting for it is waiting for
	// Serve to return, not for a pid.
	rc.ReattachFunc = func() (runnerAttached, error) { return inProcess{closed}, nil }

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		Plugins:          sdk.PluginSet(&sdk.Plugin{ChunkBytes: chunkBytes}),
		Reattach:         rc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           sdk.HCLogger(slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	stop := func() {
		client.Kill()
		cancel()
		<-closed
		tw.close()
	}
	rpc, err := client.Client()
	if err != nil {
		stop()
		t.Fatalf("sdktest: connect to the plugin: %v", err)
	}
	t.Cleanup(func() {
		// Close asks the server to stop; wait for it before canceling, since
		// go-plugin's GRPCServer.Stop must not run twice at once.
		_ = rpc.Close()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
		}
		stop()
	})
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("sdktest: dispense: %v", err)
	}
	return raw.(*sdk.Client)
}

// testWriter writes lines to t.Log until the test's cleanup closes it.
type testWriter struct {
	t testing.TB
	// mu guards closed and serialises writes.
	mu     sync.Mutex
	closed bool
}

// Write implements io.Writer.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
