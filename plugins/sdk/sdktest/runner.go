package sdktest

import (
	"context"

	"github.com/hashicorp/go-plugin/runner"
)

type runnerAttached = runner.AttachedRunner

// inProcess is go-plugin's handle on a plugin served in this process: it
// has no pid to wait for, only Serve's end.
type inProcess struct{ closed <-chan struct{} }

// Wait implements runner.AttachedRunner.
func (r inProcess) Wait(ctx context.Context) error {
	select {
	case <-r.closed:
	case <-ctx.Done():
	}
	return nil
}

// Kill implements runner.AttachedRunner. Stopping is the test cleanup's job.
func (inProcess) Kill(context.Context) error { return nil }

// ID implements runner.AttachedRunner.
func (inProcess) ID() string { return "in-process" }

// PluginToHost implements runner.AddrTranslator.
func (inProcess) PluginToHost(n, a string) (string, string, error) { return n, a, nil }

// HostToPlugin implements runner.AddrTranslator.
func (inProcess) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }
