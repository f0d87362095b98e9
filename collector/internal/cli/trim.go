package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/export"
)

func newTrim(e *env) *cobra.Command {
	var lf loadFlags
	var out string
	cmd := &cobra.Command{
		Use:   "trim PATH -o OUT",
		Short: "Write only the non-idle windows of a capture",
		Long: `trim keeps the events of every plane that meet a non-idle window, unchanged
(names, times to the picosecond, every stat), summarises the rest per plane,
line and name (count, total and self time), and writes the result in the
format OUT's name asks for:

  .trace.json.gz, .trace.json   Chrome trace JSON: open in https://ui.perfetto.dev
                                or chrome://tracing; each removed idle stretch
                                shows as a slice on the "fleetprof" track
  .xplane.pb                    XSpace: open with XProf / TensorBoard
  .fpcap                        fleetprof's capture (keeps the dropped-event
                                summaries); every fleetprof command reads it`,
		Example: `  fleetprof trim host.trace.json.gz -o host.trimmed.trace.json.gz
  fleetprof trim /tmp/profile -o capture.fpcap --gap 2ms`,
		Args: usageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: trim needs -o OUT (see 'fleetprof trim --help')", errUsage)
			}
			if _, err := export.FormatOf(out); err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			res, err := lf.loadCapture(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			n, err := export.File(out, res.Capture)
			if err != nil {
				return err
			}
			c := res.Capture
			var idle int64 = c.Span.Len() - capture.TotalLen(c.Windows)
			size := "same size"
			switch {
			case n > 0 && n < res.Size:
				size = fmt.Sprintf("%.1f× smaller", float64(res.Size)/float64(n))
			case n > res.Size && res.Size > 0:
				size = fmt.Sprintf("%.1f× larger: most of the capture is busy", float64(n)/float64(res.Size))
			}
			fmt.Fprintf(e.stdout, "%s → %s: %s → %s (%s)\n", shortPath(res.Path), out, human(res.Size), human(n), size)
			fmt.Fprintf(e.stdout, "kept %s of %s events in %d windows; removed %s µs of idle time (%.2f %% of the span)\n",
				group(c.EventsKept()), group(c.EventsTotal), len(c.Windows), groupMicros(capture.MicrosOf(idle)), pct(idle, c.Span.Len()))
			return nil
		},
	}
	lf.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file; its extension picks the format")
	return cmd
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
