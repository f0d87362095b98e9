package builtin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/sdktest"
)

// pluginDir holds the plugin binaries TestMain builds from plugins/cmd, or
// is empty in -short mode or when the build failed (buildErr says why).
var pluginDir, buildErr = "", error(nil)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flagShort := false
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			flagShort = true
		}
	}
	if !flagShort {
		dir, err := os.MkdirTemp("", "fleetprof-builtin-plugins-")
		if err != nil {
			buildErr = err
		} else {
			defer os.RemoveAll(dir)
			cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "github.com/fleetprof/fleetprof/plugins/cmd/...")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./plugins/cmd/...: %v\n%s", err, out)
			} else {
				pluginDir = dir
			}
		}
	}
	return m.Run()
}

// A runner runs an analyzer on a capture one way and returns its section.
type runner struct {
	name string
	run  func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section
}

// runners are the three ways a section is made: a direct Analyze call; over
// the plugin protocol in-process (sdktest: gRPC, chunked capture); and by the
// real plugin binary, in its own process.
var runners = []runner{
	{"direct", func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
		return builtintest.Run(t, a, c, opts)
	}},
	{"grpc", func(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
		return sdktest.RunCapture(t, a, c, opts)
	}},
	{"process", runProcess},
}

// runProcess runs the analyzer's plugin binary (plugins/cmd/<name>) as a
// host does, over go-plugin with AutoMTLS, and returns its section.
func runProcess(t *testing.T, a sdk.Analyzer, c *capture.Capture, opts map[string]string) *sdk.Section {
	t.Helper()
	if pluginDir == "" {
		if buildErr != nil {
			t.Fatalf("plugin binaries: %v", buildErr)
		}
		t.Skip("plugin processes are not run in -short mode")
	}
	name := a.Info().Name
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		Plugins:          sdk.PluginSet(&sdk.Plugin{}),
		Cmd:              exec.Command(filepath.Join(pluginDir, name)),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     30 * time.Second,
		Logger:           sdk.HCLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start plugin %s: %v", name, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense %s: %v", name, err)
	}
	cl := raw.(*sdk.Client)
	info, err := cl.Info(ctx)
	if err != nil {
		t.Fatalf("%s: Info: %v", name, err)
	}
	if info != a.Info() {
		t.Errorf("plugin %s Info = %+v, want %+v", name, info, a.Info())
	}
	s, err := cl.Analyze(ctx, c, opts)
	if err != nil {
		t.Fatalf("%s: Analyze: %v", name, err)
	}
	return s
}
