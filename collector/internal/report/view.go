package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// view is a report ready to print: every figure formatted, every chart drawn.
// Markdown and HTML both print it.
type view struct {
	Title    string
	Summary  []pair
	Warnings []string
	Sections []viewSection
}

type pair struct{ Label, Value string }

type viewSection struct {
	// Key is the section's unique key: its name, or name_2 and so on when
	// two sections share one.
	Key     string
	Title   string
	Error   string
	Metrics []pair
	Header  []viewColumn
	// Rows are the rows the main table shows; All is every row (up to
	// htmlRows), for the HTML page's "all rows".
	Rows, All [][]string
	// Total is the section's row count.
	Total  int
	Charts []viewChart
	Notes  []string
}

type viewColumn struct {
	Label   string
	Numeric bool
}

type viewChart struct {
	Title string
	File  string // images/…svg
	SVG   []byte
}

// summaryView formats a capture summary as label/value pairs.
func summaryView(s capture.Summary) []pair {
	var out []pair
	if s.Source != "" {
		src := s.Source
		if s.Format != "" {
			src += " (" + s.Format + ")"
		}
		out = append(out, pair{"Capture", src})
	}
	out = append(out, pair{"Capture span", micros(s.SpanUS.Float())})
	kept := ""
	if s.EventsTotal > 0 {
		kept = fmt.Sprintf(" (%s)", pct(100*float64(s.EventsKept)/float64(s.EventsTotal), 2))
	}
	out = append(out,
		pair{"Events", fmt.Sprintf("%s in the capture, %s kept by trimming%s", count(s.EventsTotal), count(s.EventsKept), kept)},
		pair{"Device op events", count(s.DeviceOpEvents)},
		pair{"Device op time", micros(s.NonIdleOpUS.Float()) + ", summed over op events"},
		pair{"Non-idle windows", fmt.Sprintf("%d, %s in all (gap %s µs, pad %s µs)", len(s.Windows), micros(s.WindowsUS.Float()), s.GapUS, s.PadUS)},
	)
	names := s.DeviceOrder
	if len(names) == 0 {
		for name := range s.Devices {
			names = append(names, name)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		d := s.Devices[name]
		out = append(out, pair{"Device " + name, fmt.Sprintf("busy %s, idle %s (%s), %s op events",
			micros(d.BusyUS.Float()), micros(d.IdleUS.Float()), pct(d.IdlePct, 2), count(d.OpEvents))})
	}
	return out
}

// sectionKeys gives each section a unique key: its name, else "section",
// with _2, _3 … after repeats.
func sectionKeys(sections []*sdk.Section) []string {
	seen := make(map[string]int)
	keys := make([]string, len(sections))
	for i, s := range sections {
		k := "section"
		if s != nil && s.Name != "" {
			k = s.Name
		}
		seen[k]++
		if n := seen[k]; n > 1 {
			k = fmt.Sprintf("%s_%d", k, n)
		}
		keys[i] = k
	}
	return keys
}

func buildView(r *Report) (*view, error) {
	if r == nil {
		return nil, ErrNoReport
	}
	v := &view{Title: r.title(), Summary: summaryView(r.Summary), Warnings: r.Summary.Warnings}
	keys := sectionKeys(r.Sections)
	for i, s := range r.Sections {
		if s == nil {
			s = &sdk.Section{Error: "the analyzer returned no section"}
		}
		vs, err := sectionView(keys[i], s)
		if err != nil {
			return nil, err
		}
		v.Sections = append(v.Sections, vs)
	}
	return v, nil
}

func sectionView(key string, s *sdk.Section) (viewSection, error) {
	l := layoutOf(s.Name)
	vs := viewSection{Key: key, Title: s.Title, Error: s.Error, Notes: s.Notes, Total: len(s.Rows)}
	if vs.Title == "" {
		vs.Title = key
	}
	for _, m := range s.Summary {
		label := m.Label
		if label == "" {
			label = m.Key
		}
		vs.Metrics = append(vs.Metrics, pair{label, metric(m)})
	}
	numeric := make([]bool, len(s.Columns))
	for i, c := range s.Columns {
		numeric[i] = isNumeric(s.Rows, c.Key)
		vs.Header = append(vs.Header, viewColumn{Label: l.header(c), Numeric: numeric[i]})
	}
	for i, r := range s.Rows[:min(len(s.Rows), htmlRows)] {
		cells := make([]string, len(s.Columns))
		for j, c := range s.Columns {
			cells[j] = l.cell(c, r[c.Key])
		}
		if i < l.rows {
			vs.Rows = append(vs.Rows, cells)
		}
		vs.All = append(vs.All, cells)
	}
	for i, ch := range s.Charts {
		svg, err := SVG(ch)
		if err != nil {
			return viewSection{}, fmt.Errorf("draw section %s: %w", key, err)
		}
		vs.Charts = append(vs.Charts, viewChart{Title: ch.Title, File: chartFile(key, i), SVG: svg})
	}
	return vs, nil
}

// moreRows says how many rows a table leaves out, or "".
func (vs *viewSection) moreRows() string {
	if vs.Total <= len(vs.Rows) {
		return ""
	}
	return fmt.Sprintf("Showing %d of %d rows; the JSON report (--format json) has them all.", len(vs.Rows), vs.Total)
}

// mdCell escapes a table cell: strings become code spans, so names such as
// "__init__" or "a*b" show as they are.
func mdCell(s string, numeric bool) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if numeric {
		return s
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// isNumeric reports whether a column holds numbers: its first value that is
// set is one.
func isNumeric(rows []sdk.Row, key string) bool {
	for _, r := range rows {
		switch r[key].(type) {
		case nil:
			continue
		case float64, int64, int:
			return true
		}
		return false
	}
	return false
}
