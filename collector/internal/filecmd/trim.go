package filecmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func newTrim(e *Env) *cobra.Command {
	var lf LoadFlags
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
                                summaries); every fleetprof command reads it

With several hosts (--host all, or --host a,b), each host's capture is
trimmed into its own file: put {host} in OUT (-o trimmed/{host}.xplane.pb),
or give a folder (-o trimmed/) for <host>.trace.json.gz files in it; a
side-by-side summary of the hosts follows.`,
		Example: `  fleetprof trim host.trace.json.gz -o host.trimmed.trace.json.gz
  fleetprof trim /tmp/profile -o capture.fpcap --gap 2ms
  fleetprof trim /tmp/profile --host all -o trimmed/{host}.trace.json.gz`,
		Args: UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: trim needs -o OUT (see 'fleetprof trim --help')", ErrUsage)
			}
			hosts, err := lf.HostsAsked(args[0])
			if err != nil {
				return err
			}
			if hosts != nil {
				return trimHosts(cmd.Context(), e, &lf, hosts, out)
			}
			if _, err := export.FormatOf(out); err != nil {
				return fmt.Errorf("%w: %v", ErrUsage, err)
			}
			res, err := lf.LoadCapture(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			return trimOne(e, res, out)
		},
	}
	lf.Register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file; its extension picks the format")
	return cmd
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// trimOne writes a loaded capture to out and says what trimming did.
func trimOne(e *Env, res *load.Result, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("trim: %w", err)
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
	fmt.Fprintf(e.Stdout, "%s → %s: %s → %s (%s)\n", shortPath(res.Path), out, Human(res.Size), Human(n), size)
	fmt.Fprintf(e.Stdout, "kept %s of %s events in %d windows; removed the %s µs between them (%s of the span)\n",
		group(c.EventsKept()), group(c.EventsTotal), len(c.Windows), GroupMicros(capture.MicrosOf(idle)), numfmt.Pct(pct(idle, c.Span.Len()), 2))
	// inspect's idle % is the device's (span minus device busy), larger than
	// the share removed: windows keep their padding and the short gaps
	// inside them. Say both, with what each one is.
	if s := capture.Summarize(c); len(s.DeviceOrder) > 0 {
		d := s.Devices[s.DeviceOrder[0]]
		fmt.Fprintf(e.Stdout, "device %s idle %s of the span (span minus its busy time, as inspect says); the windows also keep their padding and the gaps shorter than --gap\n",
			s.DeviceOrder[0], numfmt.Pct(d.IdlePct, 2))
	}
	return nil
}

// trimHosts trims each host of a multi-host run into its own file (see
// HostOutput), then prints the side-by-side summary.
func trimHosts(ctx context.Context, e *Env, lf *LoadFlags, hosts []load.HostFile, out string) error {
	isDir := strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator))
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		isDir = true
	}
	if !isDir && !strings.Contains(out, "{host}") {
		return fmt.Errorf("%w: --host %s writes one file per host: put {host} in -o (e.g. -o trimmed/{host}.trace.json.gz) or give a folder (-o trimmed/)", ErrUsage, lf.host)
	}
	if _, err := export.FormatOf(HostOutput(out, "h", isDir)); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	rows := make([]HostRow, 0, len(hosts))
	for _, h := range hosts {
		path := HostOutput(out, h.Host, isDir)
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		var res *load.Result
		if err == nil {
			res, err = lf.LoadHost(ctx, e, h)
		}
		if err == nil {
			err = trimOne(e, res, path)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "host %s: %v\n", h.Host, err)
			rows = append(rows, HostRow{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()})
			continue
		}
		rows = append(rows, NewHostRow(h.Host, filepath.Base(res.Path), capture.Summarize(res.Capture)))
	}
	fmt.Fprintln(e.Stdout)
	if err := WriteHostTable(e.Stdout, rows, false); err != nil {
		return err
	}
	return HostsErr(rows)
}
