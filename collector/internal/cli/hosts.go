package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file analyzes multi-host runs (analyze --host all): a report per
// host, and the side-by-side summary of filecmd's hosts.go.

// addReport adds the report's top component and op to a row.
func addReport(r *filecmd.HostRow, sections []*sdk.Section) {
	for _, s := range sections {
		if s.Error != "" || len(s.Rows) == 0 {
			continue
		}
		switch s.Name {
		case "components":
			r.TopComponent, _ = s.Rows[0]["component"].(string)
			r.TopComponentPct, _ = s.Rows[0]["pct"].(float64)
		case "top_ops":
			r.TopOp, _ = s.Rows[0]["operation"].(string)
		}
	}
}

// writeReportFiles writes a report's files under dir, printing the main ones.
func writeReportFiles(e *env, dir string, files []report.File) error {
	if err := report.Write(dir, files); err != nil {
		return err
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "images/") {
			fmt.Fprintf(e.Stdout, "wrote %s\n", filepath.Join(dir, filepath.FromSlash(f.Name)))
		}
	}
	return nil
}

// analyzeHosts analyzes each host of a multi-host run into out/<host>/ and
// writes the side-by-side summary as out/summary.md (and summary.json with
// the json format), printing it too. A host that fails is reported in the
// summary; the others are written.
func analyzeHosts(ctx context.Context, e *env, lf *filecmd.LoadFlags, path string, hosts []load.HostFile,
	ph *pluginhost.Host, opts map[string]string, formats []string, out string) error {
	rows := make([]filecmd.HostRow, 0, len(hosts))
	for _, h := range hosts {
		row, err := analyzeHost(ctx, e, lf, h, ph, opts, formats, filepath.Join(out, filecmd.HostDir(h.Host)))
		if err != nil {
			row = filecmd.HostRow{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()}
			fmt.Fprintf(e.Stderr, "host %s: %v\n", h.Host, err)
		}
		rows = append(rows, row)
	}
	main := "report." + formats[0]
	files := []report.File{{Name: "summary.md", Data: filecmd.HostsMarkdown(path, rows, main)}}
	if slices.Contains(formats, "json") {
		b, err := filecmd.HostsJSON(rows)
		if err != nil {
			return err
		}
		files = append(files, report.File{Name: "summary.json", Data: b})
	}
	if err := writeReportFiles(e, out, files); err != nil {
		return err
	}
	if err := filecmd.WriteHostTable(e.Stdout, rows, true); err != nil {
		return err
	}
	return filecmd.HostsErr(rows)
}

// analyzeHost analyzes one host's capture into dir.
func analyzeHost(ctx context.Context, e *env, lf *filecmd.LoadFlags, h load.HostFile,
	ph *pluginhost.Host, opts map[string]string, formats []string, dir string) (filecmd.HostRow, error) {
	res, err := lf.LoadHost(ctx, e, h)
	if err != nil {
		return filecmd.HostRow{}, err
	}
	sections := ph.Run(ctx, res.Capture, opts)
	rep := &report.Report{Title: "fleetprof report: " + h.Host + " (" + filepath.Base(res.Path) + ")",
		Summary: capture.Summarize(res.Capture), Sections: sections}
	files, err := render(rep, formats)
	if err != nil {
		return filecmd.HostRow{}, err
	}
	if err := writeReportFiles(e, dir, files); err != nil {
		return filecmd.HostRow{}, err
	}
	for _, s := range sections {
		if s.Error != "" {
			fmt.Fprintf(e.Stderr, "warning: host %s: analyzer %s failed: %s\n", h.Host, s.Name, s.Error)
		}
	}
	row := filecmd.NewHostRow(h.Host, filepath.Base(res.Path), rep.Summary)
	addReport(&row, sections)
	return row, nil
}
