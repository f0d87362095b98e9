package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func newAnalyze(e *env) *cobra.Command {
	var lf filecmd.LoadFlags
	var formats, out, rules, pluginsDir string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "analyze PATH [-o DIR]",
		Short: "Analyze a capture with the analyzer plugins and write the report",
		Long: `analyze reads and trims a capture, runs every analyzer plugin on it (each its
own process: top_ops, op_types, categories, components, roofline, idle,
host_events, and any you install) and renders the report:

  md     report.md laid out like a hand-made profiling report, with SVG charts
         in images/ beside it
  html   report.html, one self-contained page with the same content
  json   report.json: {"summary": {...}, "sections": {"<analyzer>": {"rows": [...]}}}
         (schema: docs/report-schema.md)

With -o DIR every format asked for is written into DIR; without it the one
format asked for goes to stdout (charts need -o).

With several hosts (--host all reads every host of a run folder; --host a,b
some of them), each host's report goes in DIR/<host>/, and DIR/summary.md
(and summary.json with --format json) shows the hosts side by side: span,
device busy, idle % of the busiest device, device ops, events, top component
and top op. The same table is printed.

Plugins come only from --plugins (default: the plugins folder beside this
binary), and only those listed with their sha256 in its plugins.sha256
allowlist run. A plugin that crashes, hangs (--timeout) or answers garbage
gets an error in its section; the rest of the report is unaffected.

--rules replaces the component bucketing rules: a built-in set by name
(default: fleetprof's components by kind of work; seed: the seed report's
components) or a rules FILE (YAML or JSON, ordered, first match wins; see
plugins/README.md). A file named like a set is read as ./seed.`,
		Example: `  fleetprof analyze ../shared/testdata/seed-replica/t1v-n-3d21a6bb-w-0.xplane.pb -o report/
  fleetprof analyze capture.fpcap --format json | jq '.sections.components.rows'
  fleetprof analyze /tmp/profile -o out --format md,html,json --rules my-buckets.yaml
  fleetprof analyze capture.xplane.pb --rules seed --format json | jq '.sections.components.rows'
  fleetprof analyze /tmp/profile --host all -o report/`,
		Args: filecmd.UsageArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs, err := parseFormats(formats)
			if err != nil {
				return err
			}
			if out == "" && len(fs) != 1 {
				return fmt.Errorf("%w: without -o DIR, --format takes one format", filecmd.ErrUsage)
			}
			opts := map[string]string{}
			if rules != "" {
				doc, err := rulesOption(rules)
				if err != nil {
					return err
				}
				opts["rules"] = doc
			}
			hosts, err := lf.HostsAsked(args[0])
			if err != nil {
				return err
			}
			if hosts != nil && out == "" {
				return fmt.Errorf("%w: --host %s writes a report per host: give -o DIR", filecmd.ErrUsage, lf.Host())
			}
			dir := pluginsDir
			if dir == "" {
				dir = defaultPluginsDir()
			}
			plugins, err := pluginhost.Discover(dir)
			if err != nil {
				return fmt.Errorf("find analyzer plugins: %w (build them with 'make build', or point --plugins at their folder)", err)
			}
			if hosts != nil {
				ph := pluginhost.New(plugins, pluginhost.Config{Timeout: timeout, Logger: e.Logger})
				return analyzeHosts(cmd.Context(), e, &lf, args[0], hosts, ph, opts, fs, out)
			}
			res, err := lf.LoadCapture(cmd.Context(), e, args[0])
			if err != nil {
				return err
			}
			host := pluginhost.New(plugins, pluginhost.Config{Timeout: timeout, Logger: e.Logger})
			sections := host.Run(cmd.Context(), res.Capture, opts)
			rep := &report.Report{Summary: capture.Summarize(res.Capture), Sections: sections}
			files, err := render(rep, fs)
			if err != nil {
				return err
			}
			if out == "" {
				_, err := e.Stdout.Write(files[0].Data)
				return err
			}
			if err := report.Write(out, files); err != nil {
				return err
			}
			for _, f := range files {
				if !strings.HasPrefix(f.Name, "images/") {
					fmt.Fprintf(e.Stdout, "wrote %s\n", filepath.Join(out, filepath.FromSlash(f.Name)))
				}
			}
			for _, s := range sections {
				if s.Error != "" {
					fmt.Fprintf(e.Stderr, "warning: analyzer %s failed: %s\n", s.Name, s.Error)
				}
			}
			return nil
		},
	}
	lf.Register(cmd)
	f := cmd.Flags()
	f.StringVar(&formats, "format", "md", "report formats, comma-separated: md, html, json")
	f.StringVarP(&out, "output", "o", "", "write the report files into this folder")
	f.StringVar(&rules, "rules", "", "component bucketing rules: a built-in set (default, seed) or a rules file (YAML or JSON)")
	f.StringVar(&pluginsDir, "plugins", "", "folder of analyzer plugins with its plugins.sha256 (default: plugins/ beside this binary)")
	f.DurationVar(&timeout, "timeout", pluginhost.DefaultTimeout, "how long one analyzer may run before it is killed")
	return cmd
}

// rulesOption returns the components analyzer's rules option for a --rules
// value (see bucket.Resolve), checked here so that a bad file fails before
// any plugin runs.
func rulesOption(value string) (string, error) {
	_, opt, err := bucket.Resolve(value)
	return opt, err
}

func parseFormats(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		switch f {
		case "md", "markdown":
			f = "md"
		case "html", "json":
		default:
			return nil, fmt.Errorf("%w: unknown report format %q (md, html or json)", filecmd.ErrUsage, f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// render renders rep in each format; the first file is the first format's
// main document.
func render(rep *report.Report, formats []string) ([]report.File, error) {
	var files []report.File
	for _, f := range formats {
		switch f {
		case "md":
			md, err := report.Markdown(rep)
			if err != nil {
				return nil, err
			}
			files = append(files, md...)
		case "html":
			b, err := report.HTML(rep)
			if err != nil {
				return nil, err
			}
			files = append(files, report.File{Name: "report.html", Data: b})
		case "json":
			b, err := report.JSON(rep)
			if err != nil {
				return nil, err
			}
			files = append(files, report.File{Name: "report.json", Data: b})
		}
	}
	return files, nil
}

// defaultPluginsDir is the plugins folder beside the running binary.
func defaultPluginsDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "plugins"
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}
