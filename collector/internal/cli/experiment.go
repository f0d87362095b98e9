package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// errExperimentFailed means an experiment the CLI waited for failed.
var errExperimentFailed = errors.New("the experiment failed")

// experimentPoll is how often --wait asks for the experiment's state.
const experimentPoll = 500 * time.Millisecond

// experimentFlags are the flags of `fleetprof experiment`.
type experimentFlags struct {
	name, selector, body, format string
	vary, endpoints, labels      []string
	repeat, warmups              int32
	// opts holds the capture options an experiment takes (experimentOpts),
	// defined as every command defines them (package captureopt).
	opts               captureopt.Options
	wait               bool
	out, reportFormat  string
	cron, scheduleName string
	skipIfBusy         bool
}

// experimentOpts are the capture options `fleetprof experiment` takes; the
// workload's are its own (--workload-body, --vary, --warmups, --repeat).
var experimentOpts = []string{"backend", "duration", "host-tracer-level", "device-tracer-level", "python-tracer-level", "gap", "pad"}

// callExperiment runs fn with an ExperimentService client, turning gRPC
// errors into plain sentences.
func (r *remote) callExperiment(fn func(collectorv1.ExperimentServiceClient) error) error {
	return callWith(r, collectorv1.NewExperimentServiceClient, fn)
}

func newExperiment(e *env, r *remote) *cobra.Command {
	var f experimentFlags
	cmd := &cobra.Command{
		Use:   "experiment --selector SELECTOR --workload-body FILE --vary PARAM=V1,V2,...",
		Short: "Capture a matrix of input lengths and batch sizes and fit how device time scales",
		Long: `experiment runs one capture per cell of a matrix, on every agent that matches
the selector, one cell after another, and stores them as one experiment. The
cells are every combination of the --vary values, for each endpoint.

Requests are built from one body (a /v1/score or /generate body):
  input_len  repeats or cuts the query's (or prompt's) token ids, or its words
             for text, to that length
  batch      items per /v1/score request; for /generate, that many requests
             in flight at once
A /generate request made from a /v1/score body prompts with the query and the
first item and asks for one new token, so both endpoints run the same prefill.
Each cell sends --warmups requests first (not profiled), then --repeat rounds.

The report gives per cell the device time per request, per component and per
top op, the scaling fits of each against each parameter (linear: slope,
intercept, R²; log-log: exponent, R²), charts of time against input length per
component (Markdown and HTML), and the endpoints side by side.

With --wait, experiment follows the cells and prints the report when every
capture is analyzed (--format json prints it as JSON). With --cron it adds a
schedule that runs the experiment instead, so a scaling curve becomes a trend.`,
		Example: `  fleetprof experiment --selector model=qwen3 --workload-body score.json \
      --vary input_len=128,512,2048 --vary batch=1,4,16 --endpoints /v1/score,/generate --wait
  fleetprof experiment show x-20260205-201530-1a2b3c4d --format json
  fleetprof experiment report x-20260205-201530-1a2b3c4d --format md -o out/`,
		Args: filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(f.format); err != nil {
				return err
			}
			spec, err := f.spec()
			if err != nil {
				return err
			}
			if f.cron != "" {
				return f.schedule(cmd.Context(), e, r, spec)
			}
			var started *collectorv1.Experiment
			err = r.callExperiment(func(c collectorv1.ExperimentServiceClient) error {
				resp, err := c.StartExperiment(cmd.Context(), &collectorv1.StartExperimentRequest{Spec: spec})
				started = resp.GetExperiment()
				return err
			})
			if err != nil {
				return err
			}
			if !f.wait {
				if f.format == "json" {
					return printJSON(e.Stdout, map[string]any{"experiment_id": started.GetExperimentId(), "cells": len(started.GetCells()), "status": started.GetStatus()})
				}
				fmt.Fprintf(e.Stdout, "experiment %s started: %d cell(s); follow it with 'fleetprof experiment show %s'\n",
					started.GetExperimentId(), len(started.GetCells()), started.GetExperimentId())
				return nil
			}
			if f.format == "table" {
				fmt.Fprintf(e.Stderr, "experiment %s: %d cell(s)\n", started.GetExperimentId(), len(started.GetCells()))
			}
			final, err := followExperiment(cmd.Context(), e, r, started.GetExperimentId())
			if err != nil {
				return err
			}
			if err := showExperiment(cmd.Context(), e, r, final.GetExperimentId(), f.format); err != nil {
				return err
			}
			if f.out != "" {
				if err := writeExperimentReport(cmd.Context(), e, r, final.GetExperimentId(), f.reportFormat, f.out); err != nil {
					return err
				}
			}
			if final.GetStatus() == "failed" {
				return fmt.Errorf("%w: %s", errExperimentFailed, final.GetMessage())
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.selector, "selector", "l", "", "label selector of the agents, e.g. model=qwen3 (required)")
	fs.StringVar(&f.body, "workload-body", "", "file holding the /v1/score or /generate body the requests are built from (required)")
	fs.StringArrayVar(&f.vary, "vary", nil, "a parameter and its values, e.g. input_len=128,512,2048 or batch=1,4,16 (repeatable)")
	fs.StringSliceVar(&f.endpoints, "endpoints", nil, "endpoints, each run over every cell: /v1/score, /generate (default: the body's)")
	fs.Int32Var(&f.repeat, "repeat", 1, "profiled rounds per cell (each one request, or batch requests for /generate)")
	fs.Int32Var(&f.warmups, "warmups", 1, "requests per cell sent before profiling (0: none)")
	fs.StringVar(&f.name, "name", "", "a name for the experiment")
	fs.StringArrayVar(&f.labels, "label", nil, "label key=value to put on the captures (repeatable)")
	f.opts = captureopt.Defaults()
	f.opts.RegisterOnly(fs, experimentOpts...)
	fs.BoolVarP(&f.wait, "wait", "w", false, "follow the experiment and print its report when every capture is analyzed")
	fs.StringVar(&f.format, "format", "table", "output format: table or json")
	fs.StringVarP(&f.out, "output", "o", "", "with --wait, also write the report into this folder")
	fs.StringVar(&f.reportFormat, "report-format", "md", "format of the report -o writes: md, html or json")
	fs.StringVar(&f.cron, "cron", "", "add a schedule that runs the experiment on this cron spec instead of running it now")
	fs.StringVar(&f.scheduleName, "schedule-name", "", "the schedule's name with --cron (default: the experiment's name)")
	fs.BoolVar(&f.skipIfBusy, "skip-if-busy", true, "with --cron, skip a run while the previous experiment still runs")
	cmd.AddCommand(newExperimentShow(e, r), newExperimentList(e, r), newExperimentReport(e, r))
	return cmd
}

// spec builds the experiment from the flags.
func (f *experimentFlags) spec() (*collectorv1.ExperimentSpec, error) {
	if f.selector == "" {
		return nil, fmt.Errorf("%w: --selector is required: name the agents, e.g. --selector model=qwen3", filecmd.ErrUsage)
	}
	if f.body == "" {
		return nil, fmt.Errorf("%w: --workload-body is required: a /v1/score or /generate request body", filecmd.ErrUsage)
	}
	if len(f.vary) == 0 {
		return nil, fmt.Errorf("%w: --vary is required, e.g. --vary input_len=128,512,2048 --vary batch=1,4", filecmd.ErrUsage)
	}
	if f.repeat < 1 || f.warmups < 0 {
		return nil, fmt.Errorf("%w: --warmups must not be negative, --repeat at least 1", filecmd.ErrUsage)
	}
	opts, err := f.opts.ToProto(nil)
	if err != nil {
		return nil, usageErr(err)
	}
	body, err := os.ReadFile(f.body)
	if err != nil {
		return nil, fmt.Errorf("read --workload-body: %w", err)
	}
	if len(body) > 1<<20 {
		return nil, fmt.Errorf("%w: --workload-body %s is %d bytes; at most 1 MiB", filecmd.ErrUsage, f.body, len(body))
	}
	spec := &collectorv1.ExperimentSpec{
		Name: f.name, Selector: f.selector, WorkloadBody: body, Endpoints: f.endpoints, Repeat: f.repeat,
		Warmups: f.warmups, Labels: map[string]string{},
		Options: opts,
	}
	if f.warmups == 0 {
		spec.Warmups = -1 // none; 0 on the wire means the default, one
	}
	for _, v := range f.vary {
		p, err := experiment.ParseVary(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", filecmd.ErrUsage, err)
		}
		spec.Vary = append(spec.Vary, p)
	}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: --label %q: want key=value", filecmd.ErrUsage, l)
		}
		spec.Labels[k] = v
	}
	if _, err := experiment.Validate(spec); err != nil {
		return nil, fmt.Errorf("%w: %w", filecmd.ErrUsage, err)
	}
	return spec, nil
}

// schedule adds a schedule that runs the experiment.
func (f *experimentFlags) schedule(ctx context.Context, e *env, r *remote, spec *collectorv1.ExperimentSpec) error {
	name := f.scheduleName
	if name == "" {
		name = f.name
	}
	if name == "" {
		return fmt.Errorf("%w: a scheduled experiment needs a name: give --schedule-name or --name", filecmd.ErrUsage)
	}
	return r.callSchedule(func(c collectorv1.ScheduleServiceClient) error {
		resp, err := c.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: &collectorv1.Schedule{
			Name: name, Cron: f.cron, Selector: spec.GetSelector(), Experiment: spec, SkipIfBusy: f.skipIfBusy,
		}})
		if err != nil {
			return err
		}
		sc := resp.GetSchedule()
		if f.format == "json" {
			return printJSON(e.Stdout, map[string]any{"schedule_id": sc.GetScheduleId(), "name": sc.GetName(), "cron": sc.GetCron(), "next_run": sc.GetNextRun().AsTime()})
		}
		fmt.Fprintf(e.Stdout, "schedule %s (%s) runs the experiment on %q; next run %s\n",
			sc.GetScheduleId(), sc.GetName(), sc.GetCron(), sc.GetNextRun().AsTime().Format(time.RFC3339))
		return nil
	})
}

// followExperiment polls an experiment until it has finished, printing a
// line on stderr whenever a cell's state or the experiment's message
// changes, and returns its last state.
func followExperiment(ctx context.Context, e *env, r *remote, id string) (*collectorv1.Experiment, error) {
	seen := map[int]string{}
	lastMsg := ""
	t := time.NewTicker(experimentPoll)
	defer t.Stop()
	for {
		var x *collectorv1.Experiment
		err := r.callExperiment(func(c collectorv1.ExperimentServiceClient) error {
			resp, err := c.GetExperiment(ctx, &collectorv1.GetExperimentRequest{ExperimentId: id})
			x = resp.GetExperiment()
			return err
		})
		if err != nil {
			return nil, err
		}
		now := time.Now().Format("15:04:05.000")
		for i, c := range x.GetCells() {
			line := c.GetStatus()
			if c.GetMessage() != "" {
				line += ": " + c.GetMessage()
			}
			if seen[i] != line {
				seen[i] = line
				fmt.Fprintf(e.Stderr, "%s  cell %-3d %-10s %-28s %s\n", now, i+1, filecmd.Escape(c.GetEndpoint()), filecmd.Escape(cellParams(c)), filecmd.Escape(line))
			}
		}
		if x.GetMessage() != lastMsg {
			lastMsg = x.GetMessage()
			fmt.Fprintf(e.Stderr, "%s  %s\n", now, filecmd.Escape(lastMsg))
		}
		if x.GetStatus() != "running" {
			return x, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// cellParams formats a cell's parameters.
func cellParams(c *collectorv1.ExperimentCell) string {
	var parts []string
	for _, k := range []string{experiment.ParamInputLen, experiment.ParamBatch} {
		if v, ok := c.GetParams()[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v))
		}
	}
	return strings.Join(parts, " ")
}

// fetchExperimentReport fetches an experiment's report files.
func fetchExperimentReport(ctx context.Context, r *remote, id, format string) ([]report.File, error) {
	var files []report.File
	err := r.callExperiment(func(c collectorv1.ExperimentServiceClient) error {
		resp, err := c.GetExperimentReport(ctx, &collectorv1.GetExperimentReportRequest{ExperimentId: id, Format: format})
		for _, f := range resp.GetFiles() {
			files = append(files, report.File{Name: f.GetName(), Data: f.GetData()})
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("collector %s sent an empty report", r.addr)
	}
	return files, err
}

// showExperiment prints an experiment's report: its JSON, or tables.
func showExperiment(ctx context.Context, e *env, r *remote, id, format string) error {
	files, err := fetchExperimentReport(ctx, r, id, "json")
	if err != nil {
		return err
	}
	if format == "json" {
		_, err := e.Stdout.Write(files[0].Data)
		return err
	}
	var rep experiment.Report
	if err := json.Unmarshal(files[0].Data, &rep); err != nil {
		return fmt.Errorf("read the experiment report: %w", err)
	}
	experiment.Table(e.Stdout, &rep)
	return nil
}

// writeExperimentReport writes an experiment's report into a folder.
func writeExperimentReport(ctx context.Context, e *env, r *remote, id, format, out string) error {
	switch format {
	case "md", "html", "json":
	default:
		return fmt.Errorf("%w: the report format must be md, html or json, not %q", filecmd.ErrUsage, format)
	}
	files, err := fetchExperimentReport(ctx, r, id, format)
	if err != nil {
		return err
	}
	if err := report.Write(out, files); err != nil {
		return err
	}
	fmt.Fprintln(e.Stderr, filecmd.WroteFiles(filepath.Join(out, files[0].Name), len(files)))
	return nil
}

func newExperimentShow(e *env, r *remote) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show EXPERIMENT_ID",
		Short: "Print an experiment's report (tables, or --format json)",
		Args:  filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			return showExperiment(cmd.Context(), e, r, args[0], format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newExperimentReport(e *env, r *remote) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report EXPERIMENT_ID -o DIR",
		Short: "Write an experiment's report (Markdown with SVG charts, HTML or JSON) into a folder",
		Args:  filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: -o DIR is required", filecmd.ErrUsage)
			}
			return writeExperimentReport(cmd.Context(), e, r, args[0], format, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "report format: md, html or json")
	cmd.Flags().StringVarP(&out, "output", "o", "", "folder to write the report into")
	return cmd
}

func newExperimentList(e *env, r *remote) *cobra.Command {
	var format string
	var limit int32
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments, newest first",
		Args:  filecmd.UsageArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			return r.callExperiment(func(c collectorv1.ExperimentServiceClient) error {
				resp, err := c.ListExperiments(cmd.Context(), &collectorv1.ListExperimentsRequest{Limit: limit})
				if err != nil {
					return err
				}
				if format == "json" {
					var out []map[string]any
					for _, x := range resp.GetExperiments() {
						out = append(out, map[string]any{"experiment_id": x.GetExperimentId(), "name": x.GetSpec().GetName(),
							"status": x.GetStatus(), "message": x.GetMessage(), "cells": len(x.GetCells()), "created_at": x.GetCreatedAt().AsTime()})
					}
					if out == nil {
						out = []map[string]any{}
					}
					return printJSON(e.Stdout, out)
				}
				tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "EXPERIMENT\tNAME\tCREATED\tCELLS\tSTATUS\tMESSAGE")
				for _, x := range resp.GetExperiments() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", x.GetExperimentId(), x.GetSpec().GetName(),
						x.GetCreatedAt().AsTime().Format(time.RFC3339), len(x.GetCells()), x.GetStatus(), x.GetMessage())
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().Int32Var(&limit, "limit", 100, "at most this many")
	return cmd
}
