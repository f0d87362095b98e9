package pluginhost

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// TestRunRefusesCostlyCaptures: a capture past the limits starts no plugin
// and every section names the bound (issue 13 finding 2: each plugin used
// ~1.9 GB on 16 MB of empty events).
func TestRunRefusesCostlyCaptures(t *testing.T) {
	var logs logtest.Buffer
	h := New(discover(t, pluginDir(t, "good", "panic")), Config{Timeout: 30 * time.Second, Logger: newLogger(&logs), Limits: fpcap.Limits{MaxEvents: 4}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := h.Run(ctx, testCapture(), nil)
	if len(got) != 2 {
		t.Fatalf("Run gave %d sections, want 2", len(got))
	}
	for _, s := range got {
		if !strings.Contains(s.Error, ErrLimit.Error()) || !strings.Contains(s.Error, "events=4") {
			t.Errorf("section %s: error %q, want %q naming events=4", s.Name, s.Error, ErrLimit)
		}
	}
	if strings.Contains(logs.String(), "analyzing") {
		t.Errorf("a plugin ran on a refused capture; log:\n%s", logs.String())
	}
}

func TestEnvCarriesLimits(t *testing.T) {
	h := New(nil, Config{Limits: fpcap.Limits{MaxEvents: 7}})
	env := strings.Join(h.env(slog.New(slog.DiscardHandler)), "\n")
	if !strings.Contains(env, sdk.LimitsEnv+"=") || !strings.Contains(env, "events=7") {
		t.Errorf("plugin environment %q lacks the limits", env)
	}
	if _, err := fpcap.ParseLimits(strings.TrimPrefix(env[strings.Index(env, sdk.LimitsEnv):], sdk.LimitsEnv+"=")); err != nil {
		t.Errorf("limits in the environment do not parse: %v", err)
	}
}
