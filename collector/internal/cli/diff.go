package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/diff"
	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func newDiff(e *env, r *remote) *cobra.Command {
	var format string
	var top int
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two stored captures: headline figures, components, op types, ops",
		Long: `diff compares capture B with the baseline A the way the analyzers see them:
headline figures (span, device busy and op time, idle %, events), device op
time per component (the bucketing rules), per op type and per framework op,
each with B − A and the change in % of A. Tables are sorted by the size of the
change. Times are in µs.`,
		Example: `  fleetprof diff SCORE_CAPTURE GENERATE_CAPTURE
  fleetprof diff A B --format json`,
		Args: filecmd.UsageArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := outFormat(format); err != nil {
				return err
			}
			var resp *collectorv1.DiffResponse
			err := r.call(func(c collectorv1.CollectorServiceClient) (err error) {
				resp, err = c.Diff(cmd.Context(), &collectorv1.DiffRequest{A: args[0], B: args[1]})
				return err
			})
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSON(e.Stdout, map[string]any{
					"a": args[0], "b": args[1],
					"summary": diffJSON(resp.GetSummary()), "components": diffJSON(resp.GetComponents()),
					"op_types": diffJSON(resp.GetOpTypes()), "ops": diffJSON(resp.GetOps()),
				})
			}
			fmt.Fprintf(e.Stdout, "A = %s\nB = %s\n", args[0], args[1])
			for _, t := range []struct {
				title, key, label string
				rows              []*collectorv1.DiffRow
			}{
				{"Summary", "METRIC", "UNIT", resp.GetSummary()},
				{"Components (device op time, µs)", "COMPONENT", "", resp.GetComponents()},
				{"Op types (device op time, µs)", "OP TYPE", "", resp.GetOpTypes()},
				{"Ops (device op time, µs)", "OPERATION", "TYPE", resp.GetOps()},
			} {
				if err := printDiffTable(e.Stdout, t.title, t.key, t.label, t.rows, top); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().IntVar(&top, "top", 20, "rows shown per table, largest changes first (0: all; json shows all)")
	return cmd
}

func printDiffTable(w io.Writer, title, key, label string, rows []*collectorv1.DiffRow, top int) error {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if label != "" {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", key, label, diffHeader())
	} else {
		fmt.Fprintf(tw, "%s\t%s\n", key, diffHeader())
	}
	shown := rows
	if top > 0 && len(shown) > top {
		shown = shown[:top]
	}
	for _, r := range shown {
		unit := "us" // device op time, unless the row names its unit
		if label == "UNIT" {
			unit = r.GetLabel()
		}
		change := "-"
		if r.GetA() != 0 {
			change = numfmt.Change(r.GetDeltaPct())
		} else if r.GetB() != 0 {
			change = "new"
		}
		cells := fmt.Sprintf("%14s %14s %14s %8s", numfmt.Value(r.GetA(), unit), numfmt.Value(r.GetB(), unit), numfmt.Signed(r.GetDelta(), unit), change)
		if label != "" {
			shown := r.GetLabel()
			if label == "UNIT" && shown == "us" {
				shown = numfmt.Micro
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", filecmd.Escape(cut(r.GetKey(), 70)), filecmd.Escape(shown), cells)
		} else {
			fmt.Fprintf(tw, "%s\t%s\n", filecmd.Escape(cut(r.GetKey(), 70)), cells)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(shown) < len(rows) {
		fmt.Fprintf(w, "… %d more rows (--top 0 shows all)\n", len(rows)-len(shown))
	}
	return nil
}

// diffHeader heads the figures of a diff row, right-aligned above them.
func diffHeader() string { return fmt.Sprintf("%14s %14s %14s %8s", "A", "B", "B − A", "CHANGE") }

// cut shortens s to n runes, keeping its end (op names differ at the end).
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// diffJSON returns a diff table's rows for --format json, as diff.Row
// writes them.
func diffJSON(rows []*collectorv1.DiffRow) []diff.Row {
	out := make([]diff.Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, diff.Row{Key: r.GetKey(), Label: r.GetLabel(), A: r.GetA(), B: r.GetB(), Delta: r.GetDelta(), DeltaPct: r.GetDeltaPct()})
	}
	return out
}
