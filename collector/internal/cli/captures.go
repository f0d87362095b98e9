package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func newCaptures(e *env, r *remote) *cobra.Command {
	var sel, trigger, status, agent, since, until, format string
	var limit int32
	cmd := &cobra.Command{
		Use:   "captures",
		Short: "List the stored captures, newest first",
		Long: `captures lists the captures the collector holds, newest first, filtered by
the captures' labels (the agent's plus the capture's own), trigger (manual,
fleet, schedule), status (committed, analyzed, analysis_failed), agent and
time. --since and --until take a duration back from now (1h, 30m) or a time
(2026-02-05T20:15:30Z). BACKUP is the capture's GCS backup: pending, done,
failed (retried; --format json says why) or - when backup is off.`,
		Example: `  fleetprof captures --selector model=qwen3 --since 24h
  fleetprof captures --trigger fleet --format json`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			req := &collectorv1.ListCapturesRequest{Selector: sel, Trigger: trigger, Status: status, AgentId: agent, Limit: limit}
			now := time.Now()
			for _, b := range []struct {
				flag, v string
				dst     **timestamppb.Timestamp
			}{{"since", since, &req.Since}, {"until", until, &req.Until}} {
				if b.v == "" {
					continue
				}
				t, err := parseWhen(b.v, now)
				if err != nil {
					return fmt.Errorf("%w: --%s: %v", filecmd.ErrUsage, b.flag, err)
				}
				*b.dst = timestamppb.New(t)
			}
			var resp *collectorv1.ListCapturesResponse
			err := r.call(func(c collectorv1.CollectorServiceClient) (err error) {
				resp, err = c.ListCaptures(cmd.Context(), req)
				return err
			})
			if err != nil {
				return err
			}
			if format == "json" {
				out := struct {
					Captures []captureJSON `json:"captures"`
					Next     string        `json:"next_page_token,omitempty"`
				}{Captures: []captureJSON{}, Next: resp.GetNextPageToken()}
				for _, c := range resp.GetCaptures() {
					out.Captures = append(out.Captures, toCaptureJSON(c))
				}
				return printJSON(e.Stdout, out)
			}
			tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CAPTURE\tAGENT\tCREATED\tTRIGGER\tSTATUS\tBACKUP\tSIZE\tDEVICE BUSY µs\tIDLE %\tLABELS")
			for _, c := range resp.GetCaptures() {
				busy, idle := "-", "-"
				var s capture.Summary
				if json.Unmarshal(c.GetSummaryJson(), &s) == nil && len(s.DeviceOrder) > 0 {
					d := s.Devices[s.DeviceOrder[0]]
					busy, idle = filecmd.GroupMicros(d.BusyUS), filecmd.IdlePct(d.IdlePct)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filecmd.Escape(c.GetCaptureId()), filecmd.Escape(c.GetAgentId()),
					c.GetCreatedAt().AsTime().Local().Format("2006-01-02 15:04:05"), filecmd.Escape(c.GetTrigger()), filecmd.Escape(c.GetStatus()),
					filecmd.Escape(backupText(c.GetBackupStatus())), filecmd.Human(c.GetSizeBytes()), busy, idle, labelText(c.GetLabels()))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if resp.GetNextPageToken() != "" {
				fmt.Fprintf(e.Stderr, "more captures: narrow the filters or raise --limit\n")
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&sel, "selector", "l", "", "label selector, e.g. model=qwen3")
	fs.StringVar(&trigger, "trigger", "", "only this trigger: manual, fleet or schedule")
	fs.StringVar(&status, "status", "", "only this status: committed, analyzed or analysis_failed")
	fs.StringVar(&agent, "agent", "", "only this agent's captures")
	fs.StringVar(&since, "since", "", "only captures from then on: a duration back from now (24h) or an RFC 3339 time")
	fs.StringVar(&until, "until", "", "only captures before then: a duration back from now or an RFC 3339 time")
	fs.Int32Var(&limit, "limit", 100, "at most this many (up to 1000)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// backupText is a capture's backup status in the table: "-" when it was
// never queued (backup off), "failed" without the reason (which
// --format json shows in full).
func backupText(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.HasPrefix(s, "failed"):
		return "failed"
	}
	return s
}

// parseWhen reads a duration back from now or an RFC 3339 time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("negative duration %q", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (24h) nor an RFC 3339 time (2026-02-05T20:15:30Z)", s)
	}
	return t, nil
}

// captureJSON is a capture in --format json.
type captureJSON struct {
	ID           string            `json:"capture_id"`
	AgentID      string            `json:"agent_id"`
	Host         string            `json:"host,omitempty"`
	Labels       map[string]string `json:"labels"`
	Trigger      string            `json:"trigger"`
	FleetID      string            `json:"fleet_id,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Status       string            `json:"status"`
	SizeBytes    int64             `json:"size_bytes"`
	BackupStatus string            `json:"backup_status,omitempty"`
	Summary      json.RawMessage   `json:"summary,omitempty"`
}

func toCaptureJSON(c *collectorv1.Capture) captureJSON {
	j := captureJSON{
		ID: c.GetCaptureId(), AgentID: c.GetAgentId(), Host: c.GetHost(), Labels: c.GetLabels(),
		Trigger: c.GetTrigger(), FleetID: c.GetFleetId(), CreatedAt: c.GetCreatedAt().AsTime(),
		Status: c.GetStatus(), SizeBytes: c.GetSizeBytes(), BackupStatus: c.GetBackupStatus(),
	}
	if len(c.GetSummaryJson()) > 0 && json.Valid(c.GetSummaryJson()) {
		j.Summary = c.GetSummaryJson()
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	return j
}
