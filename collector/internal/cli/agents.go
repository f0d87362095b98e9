package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

func newAgents(e *env, r *remote) *cobra.Command {
	var sel, format string
	var all bool
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "List the agents connected to the collector",
		Long: `agents lists the agents that match a label selector: comma-separated
key=value, key!=value, key (set) or !key (not set), all of which must hold.`,
		Example: `  fleetprof agents --selector model=qwen3,zone=us-east5-b
  fleetprof agents --all --format json`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			var resp *collectorv1.ListAgentsResponse
			err := r.call(func(c collectorv1.CollectorServiceClient) (err error) {
				resp, err = c.ListAgents(cmd.Context(), &collectorv1.ListAgentsRequest{Selector: sel, IncludeDisconnected: all})
				return err
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.Stdout, agentsJSON(resp.GetAgents()))
			}
			tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AGENT\tHOST\tCONNECTED\tLAST SEEN\tSERVER\tACTIVE\tLABELS")
			for _, a := range resp.GetAgents() {
				seen := "-"
				if a.GetLastSeen() != nil {
					seen = time.Since(a.GetLastSeen().AsTime()).Round(time.Second).String() + " ago"
				}
				health := "down"
				if a.GetServerHealthy() {
					health = "healthy"
				}
				if !a.GetConnected() {
					health = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filecmd.Escape(a.GetAgentId()), filecmd.Escape(a.GetHost()), yesNo(a.GetConnected()), seen, health, filecmd.Escape(dash(a.GetActiveCapture())), labelText(a.GetLabels()))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(resp.GetAgents()) == 0 {
				fmt.Fprintln(e.Stderr, "no agent matches")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&sel, "selector", "l", "", "label selector, e.g. model=qwen3,zone=us-east5-b")
	cmd.Flags().BoolVar(&all, "all", false, "include agents that are not connected now")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// agentJSON is an agent in --format json.
type agentJSON struct {
	ID             string            `json:"agent_id"`
	Host           string            `json:"host"`
	Labels         map[string]string `json:"labels"`
	AgentVersion   string            `json:"agent_version,omitempty"`
	ServerVersion  string            `json:"server_version,omitempty"`
	Backends       []string          `json:"backends"`
	Connected      bool              `json:"connected"`
	LastSeen       *time.Time        `json:"last_seen,omitempty"`
	ServerHealthy  bool              `json:"server_healthy"`
	ServerRestarts int64             `json:"server_restarts"`
	SpoolBytes     int64             `json:"spool_bytes"`
	ActiveCapture  string            `json:"active_capture,omitempty"`
}

func agentsJSON(in []*collectorv1.Agent) []agentJSON {
	out := make([]agentJSON, 0, len(in))
	for _, a := range in {
		j := agentJSON{
			ID: a.GetAgentId(), Host: a.GetHost(), Labels: a.GetLabels(), AgentVersion: a.GetAgentVersion(),
			ServerVersion: a.GetServerVersion(), Backends: a.GetBackends(), Connected: a.GetConnected(),
			ServerHealthy: a.GetServerHealthy(), ServerRestarts: a.GetServerRestarts(), SpoolBytes: a.GetSpoolBytes(),
			ActiveCapture: a.GetActiveCapture(),
		}
		if a.GetLastSeen() != nil {
			t := a.GetLastSeen().AsTime()
			j.LastSeen = &t
		}
		out = append(out, j)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
