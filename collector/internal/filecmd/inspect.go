package filecmd

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func newInspect(e *Env) *cobra.Command {
	var lf LoadFlags
	var format string
	cmd := &cobra.Command{
		Use:   "inspect PATH",
		Short: "Say what is in a capture: span, devices busy and idle, non-idle windows",
		Long: `inspect reads a capture and prints its span, how long each device was busy
and idle, the non-idle windows, and how many events trimming would keep.

A window is a stretch where some device is busy: the union of every device's
op intervals, with neighbours closer than --gap merged, widened by --pad on
both sides. Kept events are those of any plane whose [start, end] meets a
window.

--format json prints span_us, events_total, events_kept, device_op_events,
windows ([[start_us, end_us], ...], absolute µs since the epoch) and devices
keyed by plane name (busy_us, idle_us, idle_pct, op_events), among others.

With several hosts (--host all, or --host a,b), each host's capture is read
and summarised, then the hosts are shown side by side (span, device busy,
idle % of the busiest device, device ops, events); --format json prints
{"hosts": [{"host", "file", "summary"}, ...]}.`,
		Example: `  fleetprof inspect /tmp/profile/plugins/profile/2026_02_05_20_15_30/
  fleetprof inspect host.trace.json.gz --gap 2ms --format json
  fleetprof inspect /tmp/profile --host all`,
		Args: UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("%w: --format must be text or json, not %q", ErrUsage, format)
			}
			hosts, err := lf.HostsAsked(args[0])
			if err != nil {
				return err
			}
			if hosts != nil {
				return inspectHosts(cmd.Context(), e, &lf, hosts, format == "json")
			}
			res, err := lf.LoadCapture(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			s := capture.Summarize(res.Capture)
			if format == "json" {
				enc := json.NewEncoder(e.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return printSummary(e.Stdout, res, s)
		},
	}
	lf.Register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printSummary(w io.Writer, res *load.Result, s capture.Summary) error {
	c := res.Capture
	size := Human(res.Size)
	if res.Uncompressed > 0 && res.Uncompressed != res.Size {
		size += ", " + Human(res.Uncompressed) + " uncompressed"
	}
	fmt.Fprintf(w, "capture  %s (%s, %s)\n", c.Source.Name, c.Source.Format, size)
	fmt.Fprintf(w, "span     %s µs\n", GroupMicros(s.SpanUS))
	keptPct := 0.0
	if s.EventsTotal > 0 {
		keptPct = 100 * float64(s.EventsKept) / float64(s.EventsTotal)
	}
	fmt.Fprintf(w, "events   %s total, %s kept (%s), %s device ops\n", group(s.EventsTotal), group(s.EventsKept), numfmt.Pct(keptPct, 2), group(s.DeviceOpEvents))
	fmt.Fprintf(w, "windows  %d (gap %s, pad %s), %s µs in all\n", len(s.Windows), time.Duration(c.Gap/capture.Nanosecond), time.Duration(c.Pad/capture.Nanosecond), GroupMicros(s.WindowsUS))
	const maxShown = 10
	for i, win := range c.Windows {
		if i == maxShown {
			fmt.Fprintf(w, "  … %d more (--format json lists them all)\n", len(c.Windows)-maxShown)
			break
		}
		fmt.Fprintf(w, "  #%-3d at +%.6f s  %s µs\n", i+1, float64(win.Start-c.Span.Start)/float64(capture.Second), GroupMicros(capture.MicrosOf(win.Len())))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "device\tbusy µs\tidle µs\tidle %\top events\t")
	for _, name := range s.DeviceOrder {
		d := s.Devices[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, GroupMicros(d.BusyUS), GroupMicros(d.IdleUS), IdlePct(d.IdlePct), group(d.OpEvents))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

// group formats a count (numfmt.Int).
func group(n int64) string { return numfmt.Int(n) }

// GroupMicros formats µs as every fleetprof output does (numfmt.MicrosPS),
// so a capture's figures read the same here as in its report.
func GroupMicros(m capture.Micros) string {
	return numfmt.MicrosPS(m.US*capture.Microsecond + m.PS)
}

// IdlePct formats an idle share for an "IDLE %" column.
func IdlePct(v float64) string { return numfmt.Fixed(v, 2) }

// WroteFiles says what a command wrote: "wrote out/report.md" or "wrote
// out/report.md and 6 more files".
func WroteFiles(first string, n int) string {
	switch n {
	case 1:
		return "wrote " + first
	case 2:
		return "wrote " + first + " and 1 more file"
	}
	return "wrote " + first + " and " + numfmt.Int(int64(n-1)) + " more files"
}

// Shorten cuts s to n runes, keeping its end (op names differ at the end).
func Shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
