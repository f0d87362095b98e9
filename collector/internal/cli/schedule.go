package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

func newSchedule(e *env, r *remote) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Add, list, pause, resume and remove capture schedules",
		Long: `schedule manages the collector's capture schedules. Each run of a schedule is a
fleet capture on a random sample of the idle connected agents that match its
selector; its captures have trigger "schedule" and the schedule's id.

Cron specs have five fields (minute hour day-of-month month day-of-week), in
UTC unless they start with CRON_TZ=<zone>, or are descriptors: @hourly,
@daily, @weekly, @every 10m. A run missed while the collector was down is
caught up once at start if it was missed less than one interval ago, and
skipped otherwise (docs/operators.md).`,
		Args: filecmd.UsageArgs(0),
	}
	cmd.AddCommand(newScheduleAdd(e, r), newScheduleList(e, r),
		newScheduleChange(e, r, "rm", "Remove a schedule (its captures in flight go on)", "removed"),
		newScheduleChange(e, r, "pause", "Pause a schedule until it is resumed", "paused"),
		newScheduleChange(e, r, "resume", "Resume a paused schedule at its next cron time", "resumed"))
	return cmd
}

// callSchedule runs fn with a ScheduleService client, turning gRPC errors
// into plain sentences.
func (r *remote) callSchedule(fn func(collectorv1.ScheduleServiceClient) error) error {
	return callWith(r, collectorv1.NewScheduleServiceClient, fn)
}

func newScheduleAdd(e *env, r *remote) *cobra.Command {
	var f captureFlags
	var spec string
	var jitter time.Duration
	var fraction float64
	var count, maxConc int32
	var skipBusy, paused bool
	cmd := &cobra.Command{
		Use:   "add NAME --cron SPEC --selector SELECTOR",
		Short: "Add a capture schedule",
		Example: `  fleetprof schedule add hourly-qwen --cron @hourly --selector model=qwen3 \
      --fraction 0.25 --jitter 2m --duration 2s
  fleetprof schedule add nightly --cron "0 3 * * *" --selector zone=us-east5-b \
      --count 2 --max-concurrent 2 --skip-if-busy`,
		Args: filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(f.format); err != nil {
				return err
			}
			if spec == "" {
				return fmt.Errorf("%w: --cron is required, e.g. --cron @hourly or --cron \"*/15 * * * *\"", filecmd.ErrUsage)
			}
			if jitter < 0 || fraction < 0 || fraction > 1 || count < 0 || maxConc < 0 {
				return fmt.Errorf("%w: --jitter, --count and --max-concurrent must not be negative; --fraction is in (0, 1]", filecmd.ErrUsage)
			}
			req, err := f.request()
			if err != nil {
				return err
			}
			s := &collectorv1.Schedule{
				Name: args[0], Cron: spec, Selector: req.GetSelector(), Options: req.GetOptions(), Labels: req.GetLabels(),
				JitterMs: jitter.Milliseconds(), MaxConcurrent: maxConc, SkipIfBusy: skipBusy,
				SampleFraction: fraction, SampleCount: count, Paused: paused,
			}
			return r.callSchedule(func(c collectorv1.ScheduleServiceClient) error {
				resp, err := c.AddSchedule(cmd.Context(), &collectorv1.AddScheduleRequest{Schedule: s})
				if err != nil {
					return err
				}
				return printSchedules(e.Stdout, f.format, []*collectorv1.Schedule{resp.GetSchedule()})
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&spec, "cron", "", "when to run: five cron fields (UTC) or @hourly, @daily, @every 10m … (required)")
	fs.StringVarP(&f.selector, "selector", "l", "", "label selector of the agents, e.g. model=qwen3 (required)")
	fs.Float64Var(&fraction, "fraction", 0, "profile ceil(fraction × N) of the N idle matching agents, in (0, 1]")
	fs.Int32Var(&count, "count", 0, "profile this many of the idle matching agents (default: all of them)")
	fs.DurationVar(&jitter, "jitter", 0, "random delay up to this before each run")
	fs.Int32Var(&maxConc, "max-concurrent", 0, "most captures of this schedule in flight at once (0: no bound)")
	fs.BoolVar(&skipBusy, "skip-if-busy", false, "skip a run while the previous one has captures in flight")
	fs.BoolVar(&paused, "paused", false, "add the schedule paused")
	f.opts.Register(fs)
	fs.StringArrayVar(&f.labels, "label", nil, "label key=value to put on the captures (repeatable)")
	fs.StringVar(&f.format, "format", "table", "output format: table or json")
	return cmd
}

func newScheduleList(e *env, r *remote) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the capture schedules",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			return r.callSchedule(func(c collectorv1.ScheduleServiceClient) error {
				resp, err := c.ListSchedules(cmd.Context(), &collectorv1.ListSchedulesRequest{})
				if err != nil {
					return err
				}
				if len(resp.GetSchedules()) == 0 && format == "table" {
					fmt.Fprintln(e.Stderr, "no schedules")
					return nil
				}
				return printSchedules(e.Stdout, format, resp.GetSchedules())
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// newScheduleChange is rm, pause or resume.
func newScheduleChange(e *env, r *remote, verb, short, done string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID|NAME",
		Short: short,
		Args:  filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return r.callSchedule(func(c collectorv1.ScheduleServiceClient) error {
				var s *collectorv1.Schedule
				ctx := cmd.Context()
				switch verb {
				case "rm":
					resp, err := c.RemoveSchedule(ctx, &collectorv1.RemoveScheduleRequest{Schedule: args[0]})
					if err != nil {
						return err
					}
					s = resp.GetSchedule()
				case "pause":
					resp, err := c.PauseSchedule(ctx, &collectorv1.PauseScheduleRequest{Schedule: args[0]})
					if err != nil {
						return err
					}
					s = resp.GetSchedule()
				default:
					resp, err := c.ResumeSchedule(ctx, &collectorv1.ResumeScheduleRequest{Schedule: args[0]})
					if err != nil {
						return err
					}
					s = resp.GetSchedule()
				}
				fmt.Fprintf(e.Stdout, "schedule %s (%s) %s\n", s.GetScheduleId(), s.GetName(), done)
				if next := s.GetNextRun(); next != nil && verb == "resume" {
					fmt.Fprintf(e.Stdout, "next run %s\n", next.AsTime().UTC().Format(time.RFC3339))
				}
				return nil
			})
		},
	}
}

// sampleText says how many agents a schedule profiles.
func sampleText(s *collectorv1.Schedule) string {
	switch {
	case s.GetSampleCount() > 0:
		return fmt.Sprintf("%d", s.GetSampleCount())
	case s.GetSampleFraction() > 0:
		return fmt.Sprintf("%g%%", 100*s.GetSampleFraction())
	}
	return "all"
}

// scheduleJSON is a schedule in --format json.
type scheduleJSON struct {
	ID             string            `json:"schedule_id"`
	Name           string            `json:"name"`
	Cron           string            `json:"cron"`
	Selector       string            `json:"selector"`
	Labels         map[string]string `json:"labels,omitempty"`
	DurationMs     int64             `json:"duration_ms"`
	JitterMs       int64             `json:"jitter_ms"`
	MaxConcurrent  int32             `json:"max_concurrent"`
	SkipIfBusy     bool              `json:"skip_if_busy"`
	SampleFraction float64           `json:"sample_fraction,omitempty"`
	SampleCount    int32             `json:"sample_count,omitempty"`
	Paused         bool              `json:"paused"`
	LastRun        *time.Time        `json:"last_run,omitempty"`
	NextRun        *time.Time        `json:"next_run,omitempty"`
	LastResult     string            `json:"last_result,omitempty"`
	LastFleetID    string            `json:"last_fleet_id,omitempty"`
}

func printSchedules(w io.Writer, format string, list []*collectorv1.Schedule) error {
	when := func(ts interface{ AsTime() time.Time }, set bool) (string, *time.Time) {
		if !set {
			return "-", nil
		}
		t := ts.AsTime().UTC()
		return t.Format("2006-01-02 15:04:05Z"), &t
	}
	if format == "json" {
		out := make([]scheduleJSON, 0, len(list))
		for _, s := range list {
			_, last := when(s.GetLastRun(), s.GetLastRun() != nil)
			_, next := when(s.GetNextRun(), s.GetNextRun() != nil)
			out = append(out, scheduleJSON{
				ID: s.GetScheduleId(), Name: s.GetName(), Cron: s.GetCron(), Selector: s.GetSelector(), Labels: s.GetLabels(),
				DurationMs: s.GetOptions().GetDurationMs(), JitterMs: s.GetJitterMs(), MaxConcurrent: s.GetMaxConcurrent(),
				SkipIfBusy: s.GetSkipIfBusy(), SampleFraction: s.GetSampleFraction(), SampleCount: s.GetSampleCount(),
				Paused: s.GetPaused(), LastRun: last, NextRun: next, LastResult: s.GetLastResult(), LastFleetID: s.GetLastFleetId(),
			})
		}
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCRON\tSELECTOR\tSAMPLE\tJITTER\tCAP\tSKIP BUSY\tSTATE\tNEXT RUN\tLAST RESULT")
	for _, s := range list {
		next, _ := when(s.GetNextRun(), s.GetNextRun() != nil)
		state := "active"
		if s.GetPaused() {
			state = "paused"
		}
		limit := "-"
		if s.GetMaxConcurrent() > 0 {
			limit = fmt.Sprint(s.GetMaxConcurrent())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", filecmd.Escape(s.GetScheduleId()), filecmd.Escape(s.GetName()), filecmd.Escape(s.GetCron()),
			filecmd.Escape(dash(s.GetSelector())), filecmd.Escape(sampleText(s)), time.Duration(s.GetJitterMs())*time.Millisecond, limit,
			yesNo(s.GetSkipIfBusy()), state, next, filecmd.Escape(dash(s.GetLastResult())))
	}
	return tw.Flush()
}
