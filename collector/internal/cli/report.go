package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func newReport(e *env, r *remote) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report CAPTURE_ID",
		Short: "Fetch a stored capture's report (Markdown, HTML or JSON)",
		Long: `report fetches the report the collector made when the capture arrived: the
capture's summary and every analyzer's section. Without -o it prints the report
itself (Markdown images are left out); with -o DIR it writes report.md (and
images/*.svg), report.html or report.json into DIR.`,
		Example: `  fleetprof report f-20260205-201530-1a2b3c4d.tpu-1
  fleetprof report f-20260205-201530-1a2b3c4d.tpu-1 --format html -o out/`,
		Args: filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "md", "html", "json":
			default:
				return fmt.Errorf("%w: --format must be md, html or json, not %q", filecmd.ErrUsage, format)
			}
			var resp *collectorv1.GetReportResponse
			err := r.call(func(c collectorv1.CollectorServiceClient) (err error) {
				resp, err = c.GetReport(cmd.Context(), &collectorv1.GetReportRequest{CaptureId: args[0], Format: format})
				return err
			})
			if err != nil {
				return err
			}
			files := make([]report.File, 0, len(resp.GetFiles()))
			for _, f := range resp.GetFiles() {
				files = append(files, report.File{Name: f.GetName(), Data: f.GetData()})
			}
			if len(files) == 0 {
				return fmt.Errorf("collector %s sent an empty report", r.addr)
			}
			if out == "" {
				_, err := e.Stdout.Write(files[0].Data)
				return err
			}
			if err := report.Write(out, files); err != nil {
				return err
			}
			fmt.Fprintln(e.Stderr, filecmd.WroteFiles(filepath.Join(out, files[0].Name), len(files)))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "report format: md, html or json")
	cmd.Flags().StringVarP(&out, "output", "o", "", "folder to write the report into (default: print it)")
	return cmd
}
