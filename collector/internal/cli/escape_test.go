package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// hostile is text an agent controls, built to drive a terminal: clear the
// screen, set the window title, a C1 CSI, a bidi override, a forged row.
const hostile = "evil\x1b[2J\x1b]0;pwned\x07\u009b2K\u202eoops\nforged-row"

// rawTerminal reports the first character of out a terminal would obey.
func rawTerminal(out string) (rune, bool) {
	for _, r := range out {
		if r == '\n' || r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return r, true
		}
	}
	return 0, false
}

// TestHostileTextEscaped is finding 7 of issue 13: host names, labels and
// capture text with escape sequences reached the terminal raw in agents,
// captures, summary and report --format md.
func TestHostileTextEscaped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startCollector(t, t.TempDir(), "")
	cc, err := agenttest.Dial(c.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctl, err := agentv1.NewAgentServiceClient(cc).Control(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = ctl.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{
		AgentId: "evil", Host: hostile, Labels: map[string]string{"zone": hostile, "m\x1b[1m": "v"}, AgentVersion: hostile,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Recv(); err != nil {
		t.Fatalf("register: %v", err)
	}
	cp := capturetest.Capture(time.Now().UnixNano(),
		capturetest.Op{TFOp: "jit(run)/" + hostile + ":dot_general", Name: hostile, Start: 0, Dur: 10 * capture.Microsecond})
	cp.Warnings = []string{hostile}
	cp.Context = map[string]string{"host": hostile}
	data, sum := capturetest.Fpcap(cp)
	if _, err := agenttest.Upload(ctx, cc, agenttest.UploadSpec{CaptureID: "evil-1", AgentID: "evil", Data: data, SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	col := "--collector=" + c.addr
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		if out := mustRun(t, "captures", col, "--format", "json"); strings.Contains(out, `"analyzed"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"agents"}, {"agents", "--format", "json"}, {"captures"}, {"captures", "--format", "json"},
		{"summary", "evil-1"}, {"summary", "evil-1", "--format", "json"}, {"report", "evil-1", "--format", "md"},
		{"report", "evil-1", "--format", "json"}, {"report", "no-such\x1b[2J"},
	} {
		out, errOut, _ := fleetprof(t, append(args, col)...)
		if r, bad := rawTerminal(out + errOut); bad {
			t.Errorf("fleetprof %q printed a raw %U:\nstdout: %q\nstderr: %q", args, r, out, errOut)
		}
		if args[0] != "report" || len(args) > 2 {
			if !strings.Contains(out+errOut, `\u001b`) {
				t.Errorf("fleetprof %q: the hostile text is not shown escaped:\n%s%s", args, out, errOut)
			}
		}
	}
}
