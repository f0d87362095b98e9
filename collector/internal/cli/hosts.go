package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file reads multi-host runs: --host all (or a comma-separated list)
// reads each host's capture of a run folder, and the commands print or
// write one result per host and a short side-by-side summary.

// allHosts is the --host value that reads every host of a run folder.
const allHosts = "all"

// errHostsFailed means some hosts of a multi-host run could not be read or
// written; the others were.
var errHostsFailed = errors.New("some hosts failed")

// hostsAsked returns the hosts --host asks for when it asks for several
// ("all", or a comma-separated list), in name order; nil when it names one
// host or none, which the commands read as before.
func (f *loadFlags) hostsAsked(path string) ([]load.HostFile, error) {
	if f.host != allHosts && !strings.Contains(f.host, ",") {
		return nil, nil
	}
	hs, err := load.Hosts(path, f.run)
	if err != nil {
		return nil, err
	}
	if f.host == allHosts {
		return hs, nil
	}
	var out []load.HostFile
	for _, name := range strings.Split(f.host, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(hs, func(h load.HostFile) bool { return h.Host == name })
		if i < 0 {
			return nil, fmt.Errorf("%w: no host %q in %s (hosts: %s)", errUsage, name, path, hostList(hs))
		}
		if !slices.ContainsFunc(out, func(h load.HostFile) bool { return h.Host == name }) {
			out = append(out, hs[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --host %q names no host", errUsage, f.host)
	}
	return out, nil
}

func hostList(hs []load.HostFile) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Host
	}
	return strings.Join(names, ", ")
}

// loadHost loads one host's capture of a multi-host run.
func (f *loadFlags) loadHost(ctx context.Context, e *env, h load.HostFile) (*load.Result, error) {
	one := *f
	one.host = ""
	// The host's own file: no run folder or host to pick any more.
	one.run = ""
	return one.loadCapture(ctx, e, h.Path)
}

// hostDir is the folder name a host's output goes in: its name, made safe
// for a path.
func hostDir(host string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", ":", "_")
	name := r.Replace(host)
	if !filepath.IsLocal(name) || name == "" {
		name = "_" + name
	}
	return name
}

// hostRow is one host's line of the side-by-side summary.
type hostRow struct {
	Host string `json:"host"`
	// File is the capture file read.
	File string `json:"file,omitempty"`
	// Error is why the host could not be read, analyzed or written.
	Error    string         `json:"error,omitempty"`
	SpanUS   capture.Micros `json:"span_us"`
	SpanFrom string         `json:"span_from,omitempty"`
	// Devices counts the device planes with ops.
	Devices int `json:"devices"`
	// BusyUS sums the devices' busy time.
	BusyUS capture.Micros `json:"busy_us"`
	// IdlePct is the idle share of the busiest device.
	IdlePct        float64        `json:"idle_pct"`
	DeviceOpUS     capture.Micros `json:"device_op_us"`
	DeviceOpEvents int64          `json:"device_op_events"`
	EventsTotal    int64          `json:"events_total"`
	EventsKept     int64          `json:"events_kept"`
	Windows        int            `json:"windows"`
	// TopComponent, TopComponentPct and TopOp come from the report (analyze).
	TopComponent    string  `json:"top_component,omitempty"`
	TopComponentPct float64 `json:"top_component_pct,omitempty"`
	TopOp           string  `json:"top_op,omitempty"`
}

// tops returns the row's top component with its share, "matmul (41.2%)",
// and its top op, each "-" when the row has none.
func (r *hostRow) tops() (component, op string) {
	component, op = "-", cmp.Or(r.TopOp, "-")
	if r.TopComponent != "" {
		component = fmt.Sprintf("%s (%s)", r.TopComponent, numfmt.Pct(r.TopComponentPct, 1))
	}
	return component, op
}

// newHostRow fills a row from a capture's summary.
func newHostRow(host, file string, s capture.Summary) hostRow {
	r := hostRow{
		Host: host, File: file, SpanUS: s.SpanUS, SpanFrom: s.SpanFrom,
		DeviceOpUS: s.NonIdleOpUS, DeviceOpEvents: s.DeviceOpEvents,
		EventsTotal: s.EventsTotal, EventsKept: s.EventsKept, Windows: len(s.Windows),
	}
	var busy int64
	for i, name := range s.DeviceOrder {
		d := s.Devices[name]
		r.Devices++
		busy += d.BusyUS.US*capture.Microsecond + d.BusyUS.PS
		if i == 0 || d.IdlePct < r.IdlePct {
			r.IdlePct = d.IdlePct
		}
	}
	r.BusyUS = capture.MicrosOf(busy)
	return r
}

// addReport adds the report's top component and op to a row.
func (r *hostRow) addReport(sections []*sdk.Section) {
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

// writeHostTable prints the side-by-side summary as a table; withReport adds
// the report's columns.
func writeHostTable(w io.Writer, rows []hostRow, withReport bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "HOST\tSPAN\tDEVICES\tDEVICE BUSY\tIDLE %\tDEVICE OPS\tKEPT/EVENTS\tWINDOWS"
	if withReport {
		head += "\tTOP COMPONENT\tTOP OP"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\n", r.Host, shorten(r.Error, 100))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s s (%s)\t%d\t%s µs\t%s\t%s\t%s/%s\t%d",
			r.Host, numfmt.Fixed(r.SpanUS.Float()/1e6, 3), r.SpanFrom, r.Devices, groupMicros(r.BusyUS), idlePct(r.IdlePct),
			group(r.DeviceOpEvents), group(r.EventsKept), group(r.EventsTotal), r.Windows)
		if withReport {
			top, op := r.tops()
			fmt.Fprintf(tw, "\t%s\t%s", top, shorten(op, 60))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if line := spread(rows); line != "" {
		_, err := fmt.Fprintln(w, line)
		return err
	}
	return nil
}

// spread says how far apart the hosts are in device busy time, the first
// thing to look at in a multi-host run (a straggler, or a host that got no
// work).
func spread(rows []hostRow) string {
	var lo, hi *hostRow
	for i := range rows {
		r := &rows[i]
		if r.Error != "" {
			continue
		}
		if lo == nil || r.BusyUS.Float() < lo.BusyUS.Float() {
			lo = r
		}
		if hi == nil || r.BusyUS.Float() > hi.BusyUS.Float() {
			hi = r
		}
	}
	if lo == nil || lo == hi {
		return ""
	}
	if lo.BusyUS.Float() == 0 {
		return fmt.Sprintf("device busy: %s had none, %s the most (%s µs)", lo.Host, hi.Host, groupMicros(hi.BusyUS))
	}
	return fmt.Sprintf("device busy: %s the most, %.2f× %s, the least", hi.Host, hi.BusyUS.Float()/lo.BusyUS.Float(), lo.Host)
}

// hostsMarkdown renders the side-by-side summary of an analyzed run as
// summary.md, with a link to each host's report.
func hostsMarkdown(path string, rows []hostRow, reportName string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# fleetprof: %d hosts of %s\n\n", len(rows), path)
	b.WriteString("| host | span | devices | device busy µs | idle % (busiest device) | device ops | kept / events | windows | top component | top op |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	cell := func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
	for _, r := range rows {
		link := cell(r.Host)
		if reportName != "" {
			link = fmt.Sprintf("[%s](%s/%s)", cell(r.Host), hostDir(r.Host), reportName)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | error: %s | | | | | | | | |\n", cell(r.Host), cell(r.Error))
			continue
		}
		top, op := r.tops()
		fmt.Fprintf(&b, "| %s | %s s (%s) | %d | %s | %s | %s | %s / %s | %d | %s | `%s` |\n",
			link, numfmt.Fixed(r.SpanUS.Float()/1e6, 3), r.SpanFrom, r.Devices, groupMicros(r.BusyUS), idlePct(r.IdlePct),
			group(r.DeviceOpEvents), group(r.EventsKept), group(r.EventsTotal), r.Windows, cell(top), cell(shorten(op, 80)))
	}
	if line := spread(rows); line != "" {
		fmt.Fprintf(&b, "\n%s.\n", strings.ToUpper(line[:1])+line[1:])
	}
	return b.Bytes()
}

// hostsJSON renders the side-by-side summary as JSON.
func hostsJSON(rows []hostRow) ([]byte, error) {
	b, err := json.MarshalIndent(struct {
		Hosts []hostRow `json:"hosts"`
	}{rows}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("hosts summary: %w", err)
	}
	return append(b, '\n'), nil
}

// hostsErr returns errHostsFailed naming the failed hosts, or nil.
func hostsErr(rows []hostRow) error {
	var failed []string
	for _, r := range rows {
		if r.Error != "" {
			failed = append(failed, r.Host)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d (%s)", errHostsFailed, len(failed), len(rows), strings.Join(failed, ", "))
}

// writeReportFiles writes a report's files under dir, printing the main ones.
func writeReportFiles(e *env, dir string, files []report.File) error {
	if err := report.Write(dir, files); err != nil {
		return err
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "images/") {
			fmt.Fprintf(e.stdout, "wrote %s\n", filepath.Join(dir, filepath.FromSlash(f.Name)))
		}
	}
	return nil
}

// analyzeHosts analyzes each host of a multi-host run into out/<host>/ and
// writes the side-by-side summary as out/summary.md (and summary.json with
// the json format), printing it too. A host that fails is reported in the
// summary; the others are written.
func analyzeHosts(ctx context.Context, e *env, lf *loadFlags, path string, hosts []load.HostFile,
	ph *pluginhost.Host, opts map[string]string, formats []string, out string) error {
	rows := make([]hostRow, 0, len(hosts))
	for _, h := range hosts {
		row, err := analyzeHost(ctx, e, lf, h, ph, opts, formats, filepath.Join(out, hostDir(h.Host)))
		if err != nil {
			row = hostRow{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()}
			fmt.Fprintf(e.stderr, "host %s: %v\n", h.Host, err)
		}
		rows = append(rows, row)
	}
	main := "report." + formats[0]
	files := []report.File{{Name: "summary.md", Data: hostsMarkdown(path, rows, main)}}
	if slices.Contains(formats, "json") {
		b, err := hostsJSON(rows)
		if err != nil {
			return err
		}
		files = append(files, report.File{Name: "summary.json", Data: b})
	}
	if err := writeReportFiles(e, out, files); err != nil {
		return err
	}
	if err := writeHostTable(e.stdout, rows, true); err != nil {
		return err
	}
	return hostsErr(rows)
}

// analyzeHost analyzes one host's capture into dir.
func analyzeHost(ctx context.Context, e *env, lf *loadFlags, h load.HostFile,
	ph *pluginhost.Host, opts map[string]string, formats []string, dir string) (hostRow, error) {
	res, err := lf.loadHost(ctx, e, h)
	if err != nil {
		return hostRow{}, err
	}
	sections := ph.Run(ctx, res.Capture, opts)
	rep := &report.Report{Title: "fleetprof report: " + h.Host + " (" + filepath.Base(res.Path) + ")",
		Summary: capture.Summarize(res.Capture), Sections: sections}
	files, err := render(rep, formats)
	if err != nil {
		return hostRow{}, err
	}
	if err := writeReportFiles(e, dir, files); err != nil {
		return hostRow{}, err
	}
	for _, s := range sections {
		if s.Error != "" {
			fmt.Fprintf(e.stderr, "warning: host %s: analyzer %s failed: %s\n", h.Host, s.Name, s.Error)
		}
	}
	row := newHostRow(h.Host, filepath.Base(res.Path), rep.Summary)
	row.addReport(sections)
	return row, nil
}

// inspectHosts prints each host's summary, then the side-by-side table; with
// json, one document {"hosts": [{"host", "file", "summary"} or {"host",
// "error"}]}.
func inspectHosts(ctx context.Context, e *env, lf *loadFlags, hosts []load.HostFile, asJSON bool) error {
	type hostJSON struct {
		Host    string           `json:"host"`
		File    string           `json:"file,omitempty"`
		Error   string           `json:"error,omitempty"`
		Summary *capture.Summary `json:"summary,omitempty"`
	}
	var docs []hostJSON
	rows := make([]hostRow, 0, len(hosts))
	for i, h := range hosts {
		res, err := lf.loadHost(ctx, e, h)
		if err != nil {
			rows = append(rows, hostRow{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()})
			docs = append(docs, hostJSON{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()})
			if !asJSON {
				fmt.Fprintf(e.stderr, "host %s: %v\n", h.Host, err)
			}
			continue
		}
		s := capture.Summarize(res.Capture)
		rows = append(rows, newHostRow(h.Host, filepath.Base(res.Path), s))
		docs = append(docs, hostJSON{Host: h.Host, File: filepath.Base(res.Path), Summary: &s})
		if asJSON {
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "== host %s\n", h.Host)
		if err := printSummary(e.stdout, res, s); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Hosts []hostJSON `json:"hosts"`
		}{docs}); err != nil {
			return err
		}
		return hostsErr(rows)
	}
	fmt.Fprintf(e.stdout, "\n== %d hosts side by side\n", len(rows))
	if err := writeHostTable(e.stdout, rows, false); err != nil {
		return err
	}
	return hostsErr(rows)
}

// hostOutput names a host's trimmed file: OUT with {host} replaced, or,
// when OUT is a folder (it exists, or ends in a separator),
// OUT/<host>.trace.json.gz.
func hostOutput(out, host string, isDir bool) string {
	if strings.Contains(out, "{host}") {
		return strings.ReplaceAll(out, "{host}", hostDir(host))
	}
	if isDir {
		return filepath.Join(out, hostDir(host)+".trace.json.gz")
	}
	return out
}
