package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/insight"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// newInsightCommands returns the fleet insight commands: fleet, trend,
// regressions and baseline.
func newInsightCommands(e *env, r *remote) []*cobra.Command {
	return []*cobra.Command{newFleet(e, r), newTrend(e, r), newRegressions(e, r), newBaseline(e, r)}
}

// callInsight runs fn with an InsightService client, turning gRPC errors
// into plain sentences.
func (r *remote) callInsight(fn func(collectorv1.InsightServiceClient) error) error {
	return callWith(r, collectorv1.NewInsightServiceClient, fn)
}

// parseSince reads --since: a duration back from now that may count days
// (7d, 36h, 1d12h) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 {
			var d time.Duration
			if rest != "" {
				if d, err = time.ParseDuration(rest); err != nil || d < 0 {
					return time.Time{}, fmt.Errorf("%q is neither a duration (7d, 24h) nor an RFC 3339 time", s)
				}
			}
			return now.Add(-time.Duration(n)*24*time.Hour - d), nil
		}
	}
	return parseWhen(s, now)
}

// sinceFlag converts a --since value to a timestamp, nil when empty.
func sinceFlag(s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseSince(s, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: --since: %v", filecmd.ErrUsage, err)
	}
	return timestamppb.New(t), nil
}

func newFleet(e *env, r *remote) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "fleet FLEET_ID",
		Short: "Compare the hosts of a fleet capture and flag the outliers",
		Long: `fleet compares the hosts of one fleet capture from the summaries the collector
made when each capture arrived: per host the span, idle %, device op time
(total, and per workload request, or per second profiled without a
workload) and time per component; the fleet's median, p90 and max; and the
outliers, hosts whose device op time, a component's or a top op's time is far
from the fleet's median, each with the ops that explain the difference.

An outlier is more than 3 scaled MADs (3 x 1.4826 x MAD) and more than 10 %
away from the median (with MAD 0, the 10 % rule alone); a fleet of 1-2 hosts
has nothing to compare. docs/fleet.md has the rules and the JSON schema.

--format table (default) and json print; md prints fleet.md, or with -o DIR
writes it and its chart, images/fleet.svg; html prints one self-contained
page, or writes fleet.html into -o DIR.`,
		Example: `  fleetprof fleet f-20260205-201530-1a2b3c4d
  fleetprof fleet f-20260205-201530-1a2b3c4d --format json
  fleetprof fleet f-20260205-201530-1a2b3c4d --format md -o fleet-report/`,
		Args: filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "table", "json", "html", "md":
			default:
				return fmt.Errorf("%w: --format must be table, json, md or html, not %q", filecmd.ErrUsage, format)
			}
			var raw []byte
			err := r.callInsight(func(c collectorv1.InsightServiceClient) error {
				resp, err := c.GetFleetReport(cmd.Context(), &collectorv1.GetFleetReportRequest{FleetId: args[0]})
				raw = resp.GetReportJson()
				return err
			})
			if err != nil {
				return err
			}
			var rep insight.FleetReport
			if err := json.Unmarshal(raw, &rep); err != nil {
				return fmt.Errorf("collector %s sent a fleet report that does not parse: %w", r.addr, err)
			}
			var files []report.File
			switch format {
			case "table":
				return insight.WriteFleetText(e.Stdout, &rep, filecmd.Escape)
			case "json":
				return printJSON(e.Stdout, &rep)
			case "md":
				files = insight.FleetMarkdown(&rep)
				if out == "" {
					_, err := e.Stdout.Write(files[0].Data) // the chart needs -o
					return err
				}
			case "html":
				page, err := insight.FleetHTML(&rep)
				if err != nil {
					return err
				}
				if out == "" {
					_, err := e.Stdout.Write(page)
					return err
				}
				files = []report.File{{Name: "fleet.html", Data: page}}
			}
			if err := report.Write(out, files); err != nil {
				return err
			}
			fmt.Fprintln(e.Stderr, filecmd.WroteFiles(filepath.Join(out, files[0].Name), len(files)))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, json, md or html")
	cmd.Flags().StringVarP(&out, "output", "o", "", "folder to write md or html into")
	return cmd
}

func newTrend(e *env, r *remote) *cobra.Command {
	var sel, since, until, metric, agent, schedule, format string
	cmd := &cobra.Command{
		Use:   "trend",
		Short: "Follow a figure over time: one point per capture, per host and the fleet's median",
		Long: `trend follows one figure over the captures the collector holds, from their
stored summaries: one point per capture, a series per host, and the median of
each fleet capture's hosts. Times compare across captures of different
lengths: per workload request when every capture selected has a request
count, else per second profiled.

--metric is device_op_us_per_request (default), idle_pct, component:NAME (a
row of the components section) or op:NAME (a framework op of the top_ops
section, by its full operation name). --since takes 7d, 24h, 30m or an RFC
3339 time.`,
		Example: `  fleetprof trend --selector model=qwen3 --since 7d
  fleetprof trend --selector model=qwen3 --metric component:attention --format json`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			if metric != "" && !insight.ValidMetric(metric) {
				return fmt.Errorf("%w: --metric %q: want device_op_us_per_request, idle_pct, component:NAME or op:NAME", filecmd.ErrUsage, metric)
			}
			req := &collectorv1.GetTrendRequest{Selector: sel, Metric: metric, AgentId: agent, ScheduleId: schedule}
			var err error
			if req.Since, err = sinceFlag(since); err != nil {
				return err
			}
			if until != "" {
				t, err := parseSince(until, time.Now())
				if err != nil {
					return fmt.Errorf("%w: --until: %v", filecmd.ErrUsage, err)
				}
				req.Until = timestamppb.New(t)
			}
			var raw []byte
			err = r.callInsight(func(c collectorv1.InsightServiceClient) error {
				resp, err := c.GetTrend(cmd.Context(), req)
				raw = resp.GetTrendJson()
				return err
			})
			if err != nil {
				return err
			}
			var t insight.Trend
			if err := json.Unmarshal(raw, &t); err != nil {
				return fmt.Errorf("collector %s sent a trend that does not parse: %w", r.addr, err)
			}
			if format == "json" {
				return printJSON(e.Stdout, &t)
			}
			return insight.WriteTrendText(e.Stdout, &t, filecmd.Escape)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&sel, "selector", "l", "", "label selector of the captures, e.g. model=qwen3")
	fs.StringVar(&since, "since", "7d", "only captures from then on: 7d, 24h or an RFC 3339 time (empty: all)")
	fs.StringVar(&until, "until", "", "only captures before then: a duration back from now or an RFC 3339 time")
	fs.StringVar(&metric, "metric", insight.MetricDeviceOpPerRequest, "device_op_us_per_request, idle_pct, component:NAME or op:NAME")
	fs.StringVar(&agent, "agent", "", "only this agent's captures")
	fs.StringVar(&schedule, "schedule", "", "only this schedule's captures (its id)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newRegressions(e *env, r *remote) *cobra.Command {
	var sel, since, agent, format string
	var improvements bool
	var limit int32
	cmd := &cobra.Command{
		Use:   "regressions",
		Short: "List the figures of new captures that moved against their baseline",
		Long: `regressions lists what the collector found when each capture arrived: a figure
(the device op time, a component's or a top op's time, per workload request,
else per second profiled) that moved against the baseline of earlier
captures of the same agent with the same capture options (workload body,
endpoint, duration). The baseline is the median of the last 5 such captures
(--baseline-size on the collector), or the capture pinned with 'fleetprof
baseline pin'. A figure regressed when it moved by more than 10 % and, with 3
or more baseline captures, by more than 3 scaled MADs of them; each row names
the ops that moved most. Newest first; --improvements lists the figures that
got better too.`,
		Example: `  fleetprof regressions --since 24h
  fleetprof regressions --selector model=qwen3 --format json`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("%w: --limit must not be negative", filecmd.ErrUsage)
			}
			req := &collectorv1.ListRegressionsRequest{Selector: sel, AgentId: agent, IncludeImprovements: improvements, Limit: limit}
			var err error
			if req.Since, err = sinceFlag(since); err != nil {
				return err
			}
			var raw []byte
			err = r.callInsight(func(c collectorv1.InsightServiceClient) error {
				resp, err := c.ListRegressions(cmd.Context(), req)
				raw = resp.GetRegressionsJson()
				return err
			})
			if err != nil {
				return err
			}
			cs := []insight.Change{}
			if err := json.Unmarshal(raw, &cs); err != nil {
				return fmt.Errorf("collector %s sent regressions that do not parse: %w", r.addr, err)
			}
			if format == "json" {
				return printJSON(e.Stdout, cs)
			}
			return insight.WriteChangesText(e.Stdout, cs, filecmd.Escape)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&since, "since", "24h", "only captures from then on: 24h, 7d or an RFC 3339 time (empty: all)")
	fs.StringVarP(&sel, "selector", "l", "", "label selector of the captures, e.g. model=qwen3")
	fs.StringVar(&agent, "agent", "", "only this agent's captures")
	fs.BoolVar(&improvements, "improvements", false, "list improvements too")
	fs.Int32Var(&limit, "limit", 0, "at most this many rows (default 1000)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newBaseline(e *env, r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Pin or unpin the baseline new captures are compared with",
		Long: `baseline pins a capture as the baseline of its agent's captures with the same
capture options (workload body, endpoint, duration): new captures are then
compared with it alone instead of the rolling median of the last few. unpin
goes back to the rolling baseline.`,
		Args: filecmd.UsageArgs(0),
	}
	pin := &cobra.Command{
		Use:     "pin CAPTURE_ID",
		Short:   "Compare the agent's next captures with the same options to this one",
		Example: `  fleetprof baseline pin f-20260205-201530-1a2b3c4d.tpu-1`,
		Args:    filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var resp *collectorv1.PinBaselineResponse
			err := r.callInsight(func(c collectorv1.InsightServiceClient) (err error) {
				resp, err = c.PinBaseline(cmd.Context(), &collectorv1.PinBaselineRequest{CaptureId: args[0]})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "pinned %s as the baseline of agent %s (options %s)", filecmd.Escape(resp.GetCaptureId()), filecmd.Escape(resp.GetAgentId()), filecmd.Escape(resp.GetOptionsKey()))
			if was := resp.GetReplacedCaptureId(); was != "" {
				fmt.Fprintf(e.Stdout, "; it replaces %s", filecmd.Escape(was))
			}
			fmt.Fprintln(e.Stdout)
			return nil
		},
	}
	unpin := &cobra.Command{
		Use:   "unpin CAPTURE_ID",
		Short: "Go back to the rolling baseline for the capture's agent and options",
		Args:  filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var resp *collectorv1.UnpinBaselineResponse
			err := r.callInsight(func(c collectorv1.InsightServiceClient) (err error) {
				resp, err = c.UnpinBaseline(cmd.Context(), &collectorv1.UnpinBaselineRequest{CaptureId: args[0]})
				return err
			})
			if err != nil {
				return err
			}
			if was := resp.GetUnpinnedCaptureId(); was != "" {
				fmt.Fprintf(e.Stdout, "unpinned %s: the rolling baseline applies again\n", filecmd.Escape(was))
			} else {
				fmt.Fprintln(e.Stdout, "no baseline was pinned for that agent and options")
			}
			return nil
		},
	}
	cmd.AddCommand(pin, unpin)
	return cmd
}
