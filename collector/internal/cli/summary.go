package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// hostSummary is one capture's headline figures.
type hostSummary struct {
	CaptureID    string  `json:"capture_id"`
	AgentID      string  `json:"agent_id"`
	Host         string  `json:"host"`
	SpanUS       float64 `json:"span_us"`
	BusyUS       float64 `json:"busy_us"`
	IdlePct      float64 `json:"idle_pct"`
	TopComponent string  `json:"top_component"`
	TopPct       float64 `json:"top_component_pct"`
	TopOp        string  `json:"top_op"`
}

func newSummary(e *env, r *remote) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "summary [ID...]",
		Short: "Headline figures per host: span, device busy, idle %, top component",
		Long: `summary prints, for each capture named (default: every capture of the newest
fleet capture), the host, the capture's span, the device busy time (summed
over devices), the idle share of the busiest device, and the component and
op that took the most device time, from the capture's stored report.`,
		Example: `  fleetprof summary
  fleetprof summary f-20261129-131500-1a2b3c4d.demo-a --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			var rows []hostSummary
			err := r.call(func(c collectorv1.CollectorServiceClient) error {
				ctx := cmd.Context()
				var caps []*collectorv1.Capture
				if len(args) == 0 {
					resp, err := c.ListCaptures(ctx, &collectorv1.ListCapturesRequest{Limit: 1000})
					if err != nil {
						return err
					}
					all := resp.GetCaptures()
					if len(all) == 0 {
						return fmt.Errorf("no captures yet: start one with 'fleetprof capture'")
					}
					fleet := all[0].GetFleetId()
					for _, cp := range all {
						if cp.GetFleetId() == fleet && (fleet != "" || cp == all[0]) {
							caps = append(caps, cp)
						}
					}
				}
				for _, id := range args {
					resp, err := c.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: id})
					if err != nil {
						return err
					}
					caps = append(caps, resp.GetCapture())
				}
				for _, cp := range caps {
					row := hostSummary{CaptureID: cp.GetCaptureId(), AgentID: cp.GetAgentId(), Host: cp.GetHost()}
					var s capture.Summary
					if json.Unmarshal(cp.GetSummaryJson(), &s) == nil {
						row.SpanUS = s.SpanUS.Float()
						for _, name := range s.DeviceOrder {
							d := s.Devices[name]
							row.BusyUS += d.BusyUS.Float()
							if row.IdlePct == 0 || d.IdlePct < row.IdlePct {
								row.IdlePct = d.IdlePct
							}
						}
					}
					rep, err := c.GetReport(ctx, &collectorv1.GetReportRequest{CaptureId: cp.GetCaptureId(), Format: "json"})
					if err == nil && len(rep.GetFiles()) > 0 {
						row.TopComponent, row.TopPct, row.TopOp = topRows(rep.GetFiles()[0].GetData())
					}
					rows = append(rows, row)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.Stdout, rows)
			}
			tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AGENT\tHOST\tSPAN\tDEVICE BUSY\tIDLE %\tTOP COMPONENT\tTOP OP")
			for _, r := range rows {
				top := "-"
				if r.TopComponent != "" {
					top = fmt.Sprintf("%s (%s)", r.TopComponent, numfmt.Pct(r.TopPct, 1))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s s\t%s %s\t%s\t%s\t%s\n", filecmd.Escape(r.AgentID), filecmd.Escape(r.Host), numfmt.Fixed(r.SpanUS/1e6, 3), numfmt.MicrosValue(r.BusyUS), numfmt.Micro, filecmd.IdlePct(r.IdlePct), filecmd.Escape(top), filecmd.Escape(filecmd.Shorten(r.TopOp, 60)))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// topRows reads the first rows of the components and top_ops sections of a
// JSON report.
func topRows(report []byte) (component string, pct float64, op string) {
	var rep struct {
		Sections map[string]struct {
			Rows []map[string]any `json:"rows"`
		} `json:"sections"`
	}
	if json.Unmarshal(report, &rep) != nil {
		return "", 0, ""
	}
	if rows := rep.Sections["components"].Rows; len(rows) > 0 {
		component, _ = rows[0]["component"].(string)
		pct, _ = rows[0]["pct"].(float64)
	}
	if rows := rep.Sections["top_ops"].Rows; len(rows) > 0 {
		op, _ = rows[0]["operation"].(string)
	}
	return component, pct, op
}
