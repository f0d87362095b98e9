package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// errNotAllDone means a fleet capture ended with agents that did not finish.
var errNotAllDone = errors.New("not every agent finished its capture")

// captureFlags are the flags of `fleetprof capture` and `fleetprof schedule
// add`: the capture options (package captureopt) and the fleet's.
type captureFlags struct {
	opts                 captureopt.Options
	selector, format     string
	startDelay, deadline time.Duration
	labels               []string
	wait                 bool
}

func newCapture(e *env, r *remote) *cobra.Command {
	var f captureFlags
	cmd := &cobra.Command{
		Use:   "capture --selector SELECTOR",
		Short: "Capture on every agent that matches a selector, all at once",
		Long: `capture starts a fleet capture: every connected agent that matches the
selector gets the command at once, with a common start time (now + --start-delay),
so hosts start within milliseconds of each other. Each agent profiles its model
server (optionally while replaying a workload), trims the idle time and uploads
the capture; the collector analyzes it on arrival.

With --wait, capture follows the fleet capture and prints a line whenever an
agent's state changes, then each agent's result: done, busy (it was already
capturing), failed (and why) or unreachable. It exits non-zero unless every
agent is done.`,
		Example: `  fleetprof capture --selector model=qwen3 --duration 2s --wait
  fleetprof capture --selector zone=us-east5-b --workload-body score.json \
      --workload-endpoint /v1/score --warmups 1 --requests 2 --wait`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(f.format); err != nil {
				return err
			}
			req, err := f.request()
			if err != nil {
				return err
			}
			return r.call(func(c collectorv1.CollectorServiceClient) error {
				resp, err := c.StartCapture(cmd.Context(), req)
				if err != nil {
					return err
				}
				if !f.wait {
					if f.format == "json" {
						return printJSON(e.Stdout, fleetJSON(resp.GetFleetId(), resp.GetAgents(), false))
					}
					fmt.Fprintf(e.Stdout, "fleet capture %s started on %d agent(s)\n", resp.GetFleetId(), len(resp.GetAgents()))
					return printParts(e.Stdout, resp.GetAgents())
				}
				if f.format == "table" {
					fmt.Fprintf(e.Stderr, "fleet capture %s: %d agent(s), starting in %s\n", resp.GetFleetId(), len(resp.GetAgents()), f.startDelay)
				}
				stream, err := c.WatchFleetCapture(cmd.Context(), &collectorv1.WatchFleetCaptureRequest{FleetId: resp.GetFleetId()})
				if err != nil {
					return err
				}
				seen := map[string]string{}
				var last *collectorv1.WatchFleetCaptureResponse
				for {
					m, err := stream.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
					last = m
					for _, a := range m.GetAgents() {
						line := partText(a)
						if seen[a.GetAgentId()] != line {
							seen[a.GetAgentId()] = line
							fmt.Fprintf(e.Stderr, "%s  %-20s %s\n", time.Now().Format("15:04:05.000"), filecmd.Escape(a.GetAgentId()), filecmd.Escape(line))
						}
					}
					if m.GetDone() {
						break
					}
				}
				if last == nil {
					return errors.New("the collector ended the watch without a state")
				}
				if f.format == "json" {
					if err := printJSON(e.Stdout, fleetJSON(last.GetFleetId(), last.GetAgents(), last.GetDone())); err != nil {
						return err
					}
				} else if err := printParts(e.Stdout, last.GetAgents()); err != nil {
					return err
				}
				var notDone []string
				for _, a := range last.GetAgents() {
					if a.GetResult() != collectorv1.AgentResult_AGENT_RESULT_DONE {
						notDone = append(notDone, a.GetAgentId()+" "+resultText(a.GetResult()))
					}
				}
				if len(notDone) > 0 {
					return fmt.Errorf("%w: %s", errNotAllDone, strings.Join(notDone, ", "))
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.selector, "selector", "l", "", "label selector of the agents, e.g. model=qwen3 (required)")
	f.opts.Register(fs)
	fs.DurationVar(&f.startDelay, "start-delay", 500*time.Millisecond, "delay before the common start, so every agent has the command")
	fs.DurationVar(&f.deadline, "deadline", 0, "per-agent deadline from the start, upload included (0: duration + 2m)")
	fs.StringArrayVar(&f.labels, "label", nil, "label key=value to put on the captures (repeatable)")
	fs.BoolVarP(&f.wait, "wait", "w", false, "follow the capture, with a line per agent state change, until every agent is done")
	fs.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

// request builds the StartCapture request from the flags.
func (f *captureFlags) request() (*collectorv1.StartCaptureRequest, error) {
	if f.selector == "" {
		return nil, fmt.Errorf("%w: --selector is required: name the agents, e.g. --selector model=qwen3", filecmd.ErrUsage)
	}
	if f.startDelay < 0 || f.deadline < 0 {
		return nil, fmt.Errorf("%w: --start-delay and --deadline must not be negative", filecmd.ErrUsage)
	}
	body, err := f.opts.ReadBody(captureopt.MaxCommandBodyBytes)
	if err != nil {
		return nil, usageErr(err)
	}
	opts, err := f.opts.ToProto(body)
	if err != nil {
		return nil, usageErr(err)
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: --label %q: want key=value", filecmd.ErrUsage, l)
		}
		labels[k] = v
	}
	return &collectorv1.StartCaptureRequest{
		Selector: f.selector, Options: opts, StartDelayMs: f.startDelay.Milliseconds(),
		DeadlineMs: f.deadline.Milliseconds(), Labels: labels,
	}, nil
}

// usageErr marks a bad capture option as a usage error.
func usageErr(err error) error {
	if _, ok := errors.AsType[*captureopt.OptionError](err); ok {
		return fmt.Errorf("%w: %w", filecmd.ErrUsage, err)
	}
	return err
}

func resultText(r collectorv1.AgentResult) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "AGENT_RESULT_"))
}

func stateText(s agentv1.CaptureState) string {
	if s == agentv1.CaptureState_CAPTURE_STATE_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "CAPTURE_STATE_"))
}

// partText is one agent's state for the progress lines.
func partText(a *collectorv1.AgentCapture) string {
	s := resultText(a.GetResult())
	if st := stateText(a.GetState()); a.GetResult() == collectorv1.AgentResult_AGENT_RESULT_PENDING && st != "" {
		s = st
	}
	if m := a.GetMessage(); m != "" && m != s {
		s += ": " + m
	}
	return s
}

func printParts(w io.Writer, parts []*collectorv1.AgentCapture) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tCAPTURE\tRESULT\tSTATE\tMESSAGE")
	for _, a := range parts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", filecmd.Escape(a.GetAgentId()), filecmd.Escape(a.GetCaptureId()), resultText(a.GetResult()), dash(stateText(a.GetState())), filecmd.Escape(a.GetMessage()))
	}
	return tw.Flush()
}

// partJSON is one agent's part in --format json.
type partJSON struct {
	AgentID   string `json:"agent_id"`
	CaptureID string `json:"capture_id"`
	Result    string `json:"result"`
	State     string `json:"state,omitempty"`
	Message   string `json:"message,omitempty"`
}

func fleetJSON(id string, parts []*collectorv1.AgentCapture, done bool) any {
	out := struct {
		FleetID string     `json:"fleet_id"`
		Done    bool       `json:"done"`
		Agents  []partJSON `json:"agents"`
	}{FleetID: id, Done: done, Agents: []partJSON{}}
	for _, a := range parts {
		out.Agents = append(out.Agents, partJSON{a.GetAgentId(), a.GetCaptureId(), resultText(a.GetResult()), stateText(a.GetState()), a.GetMessage()})
	}
	return out
}
