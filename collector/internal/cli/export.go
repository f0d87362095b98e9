package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

func newExport(e *env, r *remote) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export CAPTURE_ID -o FILE",
		Short: "Download a stored capture as .trace.json.gz, .trace.json, .xplane.pb or .fpcap",
		Long: `export downloads a stored capture in the format FILE's name asks for:
.trace.json.gz or .trace.json (Chrome trace, for Perfetto), .xplane.pb (for
XProf / TensorBoard) or .fpcap (fleetprof's own, as the agent uploaded it).
The file appears only once it is complete.`,
		Example: `  fleetprof export f-20260205-201530-1a2b3c4d.tpu-1 -o tpu-1.trace.json.gz`,
		Args:    filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: -o FILE is required", filecmd.ErrUsage)
			}
			format, err := export.FormatOf(out)
			if err != nil {
				return fmt.Errorf("%w: %v", filecmd.ErrUsage, err)
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			// A temp file beside out, fsynced and renamed over it; 0644,
			// as a trace is shared.
			tmp, err := renameio.NewPendingFile(out, renameio.WithTempDir(filepath.Dir(out)), renameio.WithStaticPermissions(0o644))
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer tmp.Cleanup()
			var n int64
			err = r.call(func(c collectorv1.CollectorServiceClient) error {
				stream, err := c.Export(cmd.Context(), &collectorv1.ExportRequest{CaptureId: args[0], Format: string(format)})
				if err != nil {
					return err
				}
				for {
					m, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						return nil
					}
					if err != nil {
						return err
					}
					k, err := tmp.Write(m.GetData())
					n += int64(k)
					if err != nil {
						return fmt.Errorf("write %s: %w", out, err)
					}
				}
			})
			if err != nil {
				return err
			}
			if err := tmp.CloseAtomicallyReplace(); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(e.Stderr, "wrote %s (%s, %s)\n", out, format, filecmd.Human(n))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write; its name picks the format (required)")
	return cmd
}
