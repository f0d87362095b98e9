package filecmd

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

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// This file reads multi-host runs: --host all (or a comma-separated list)
// reads each host's capture of a run folder, and the commands print or
// write one result per host and a short side-by-side summary.

// allHosts is the --host value that reads every host of a run folder.
const allHosts = "all"

// ErrHostsFailed means some hosts of a multi-host run could not be read or
// written; the others were.
var ErrHostsFailed = errors.New("some hosts failed")

// HostsAsked returns the hosts --host asks for when it asks for several
// ("all", or a comma-separated list), in name order; nil when it names one
// host or none, which the commands read as before.
func (f *LoadFlags) HostsAsked(path string) ([]load.HostFile, error) {
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
			return nil, fmt.Errorf("%w: no host %q in %s (hosts: %s)", ErrUsage, name, path, hostList(hs))
		}
		if !slices.ContainsFunc(out, func(h load.HostFile) bool { return h.Host == name }) {
			out = append(out, hs[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --host %q names no host", ErrUsage, f.host)
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

// LoadHost loads one host's capture of a multi-host run.
func (f *LoadFlags) LoadHost(ctx context.Context, e *Env, h load.HostFile) (*load.Result, error) {
	one := *f
	one.host = ""
	// The host's own file: no run folder or host to pick any more.
	one.run = ""
	return one.LoadCapture(ctx, e, h.Path)
}

// HostDir is the folder name a host's output goes in: its name, made safe
// for a path.
func HostDir(host string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", ":", "_")
	name := r.Replace(host)
	if !filepath.IsLocal(name) || name == "" {
		name = "_" + name
	}
	return name
}

// HostRow is one host's line of the side-by-side summary.
type HostRow struct {
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
func (r *HostRow) tops() (component, op string) {
	component, op = "-", cmp.Or(r.TopOp, "-")
	if r.TopComponent != "" {
		component = fmt.Sprintf("%s (%s)", r.TopComponent, numfmt.Pct(r.TopComponentPct, 1))
	}
	return component, op
}

// NewHostRow fills a row from a capture's summary.
func NewHostRow(host, file string, s capture.Summary) HostRow {
	r := HostRow{
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

// WriteHostTable prints the side-by-side summary as a table; withReport adds
// the report's columns.
func WriteHostTable(w io.Writer, rows []HostRow, withReport bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "HOST\tSPAN\tDEVICES\tDEVICE BUSY\tIDLE %\tDEVICE OPS\tKEPT/EVENTS\tWINDOWS"
	if withReport {
		head += "\tTOP COMPONENT\tTOP OP"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\terror: %s\n", r.Host, Shorten(r.Error, 100))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s s (%s)\t%d\t%s µs\t%s\t%s\t%s/%s\t%d",
			r.Host, numfmt.Fixed(r.SpanUS.Float()/1e6, 3), r.SpanFrom, r.Devices, GroupMicros(r.BusyUS), IdlePct(r.IdlePct),
			group(r.DeviceOpEvents), group(r.EventsKept), group(r.EventsTotal), r.Windows)
		if withReport {
			top, op := r.tops()
			fmt.Fprintf(tw, "\t%s\t%s", top, Shorten(op, 60))
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
func spread(rows []HostRow) string {
	var lo, hi *HostRow
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
		return fmt.Sprintf("device busy: %s had none, %s the most (%s µs)", lo.Host, hi.Host, GroupMicros(hi.BusyUS))
	}
	return fmt.Sprintf("device busy: %s the most, %.2f× %s, the least", hi.Host, hi.BusyUS.Float()/lo.BusyUS.Float(), lo.Host)
}

// HostsMarkdown renders the side-by-side summary of an analyzed run as
// summary.md, with a link to each host's report.
func HostsMarkdown(path string, rows []HostRow, reportName string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# fleetprof: %d hosts of %s\n\n", len(rows), path)
	b.WriteString("| host | span | devices | device busy µs | idle % (busiest device) | device ops | kept / events | windows | top component | top op |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	cell := func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
	for _, r := range rows {
		link := cell(r.Host)
		if reportName != "" {
			link = fmt.Sprintf("[%s](%s/%s)", cell(r.Host), HostDir(r.Host), reportName)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | error: %s | | | | | | | | |\n", cell(r.Host), cell(r.Error))
			continue
		}
		top, op := r.tops()
		fmt.Fprintf(&b, "| %s | %s s (%s) | %d | %s | %s | %s | %s / %s | %d | %s | `%s` |\n",
			link, numfmt.Fixed(r.SpanUS.Float()/1e6, 3), r.SpanFrom, r.Devices, GroupMicros(r.BusyUS), IdlePct(r.IdlePct),
			group(r.DeviceOpEvents), group(r.EventsKept), group(r.EventsTotal), r.Windows, cell(top), cell(Shorten(op, 80)))
	}
	if line := spread(rows); line != "" {
		fmt.Fprintf(&b, "\n%s.\n", strings.ToUpper(line[:1])+line[1:])
	}
	return b.Bytes()
}

// HostsJSON renders the side-by-side summary as JSON.
func HostsJSON(rows []HostRow) ([]byte, error) {
	b, err := json.MarshalIndent(struct {
		Hosts []HostRow `json:"hosts"`
	}{rows}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("hosts summary: %w", err)
	}
	return append(b, '\n'), nil
}

// HostsErr returns ErrHostsFailed naming the failed hosts, or nil.
func HostsErr(rows []HostRow) error {
	var failed []string
	for _, r := range rows {
		if r.Error != "" {
			failed = append(failed, r.Host)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d (%s)", ErrHostsFailed, len(failed), len(rows), strings.Join(failed, ", "))
}

// inspectHosts prints each host's summary, then the side-by-side table; with
// json, one document {"hosts": [{"host", "file", "summary"} or {"host",
// "error"}]}.
func inspectHosts(ctx context.Context, e *Env, lf *LoadFlags, hosts []load.HostFile, asJSON bool) error {
	type hostJSON struct {
		Host    string           `json:"host"`
		File    string           `json:"file,omitempty"`
		Error   string           `json:"error,omitempty"`
		Summary *capture.Summary `json:"summary,omitempty"`
	}
	var docs []hostJSON
	rows := make([]HostRow, 0, len(hosts))
	for i, h := range hosts {
		res, err := lf.LoadHost(ctx, e, h)
		if err != nil {
			rows = append(rows, HostRow{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()})
			docs = append(docs, hostJSON{Host: h.Host, File: filepath.Base(h.Path), Error: err.Error()})
			if !asJSON {
				fmt.Fprintf(e.Stderr, "host %s: %v\n", h.Host, err)
			}
			continue
		}
		s := capture.Summarize(res.Capture)
		rows = append(rows, NewHostRow(h.Host, filepath.Base(res.Path), s))
		docs = append(docs, hostJSON{Host: h.Host, File: filepath.Base(res.Path), Summary: &s})
		if asJSON {
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.Stdout)
		}
		fmt.Fprintf(e.Stdout, "== host %s\n", h.Host)
		if err := printSummary(e.Stdout, res, s); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Hosts []hostJSON `json:"hosts"`
		}{docs}); err != nil {
			return err
		}
		return HostsErr(rows)
	}
	fmt.Fprintf(e.Stdout, "\n== %d hosts side by side\n", len(rows))
	if err := WriteHostTable(e.Stdout, rows, false); err != nil {
		return err
	}
	return HostsErr(rows)
}

// HostOutput names a host's trimmed file: OUT with {host} replaced, or,
// when OUT is a folder (it exists, or ends in a separator),
// OUT/<host>.trace.json.gz.
func HostOutput(out, host string, isDir bool) string {
	if strings.Contains(out, "{host}") {
		return strings.ReplaceAll(out, "{host}", HostDir(host))
	}
	if isDir {
		return filepath.Join(out, HostDir(host)+".trace.json.gz")
	}
	return out
}
