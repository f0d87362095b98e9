// Package report renders an analysis for people and programs: Markdown with
// SVG charts beside it, one self-contained HTML page, and JSON with a stable
// schema (docs/report-schema.md). It draws what analyzers return
// (sdk.Section) and never computes figures of its own beyond formatting
// them.
package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var (
	// ErrNoReport means there is nothing to render (a nil Report).
	ErrNoReport = errors.New("report: no report to render")
	// ErrBadFileName means a File would be written outside its directory.
	ErrBadFileName = errors.New("report: file name leaves the output directory")
)

// Report is what a report shows: the capture's summary and the analyzers'
// sections, in display order.
type Report struct {
	// Title heads the report. Empty means "fleetprof report: <source>".
	Title string
	// Summary is the capture's summary, as `fleetprof inspect` prints it.
	Summary capture.Summary
	// Sections are the analyzers' sections in display order. A failed
	// analyzer's section has Error set and is shown as failed.
	Sections []*sdk.Section
}

func (r *Report) title() string {
	if r.Title != "" {
		return r.Title
	}
	if r.Summary.Source != "" {
		return "fleetprof report: " + r.Summary.Source
	}
	return "fleetprof report"
}

// File is one output file.
type File struct {
	// Name is the path relative to the output directory, with '/'
	// separators, e.g. "report.md" or "images/top_ops.svg".
	Name string
	// Data is the file's content.
	Data []byte
}

// Write writes files under dir, creating the folders they need.
func Write(dir string, files []File) error {
	for _, f := range files {
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%w: %q", ErrBadFileName, f.Name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// chartFile names the file of a section's i-th chart: images/<name>.svg,
// then images/<name>-2.svg and so on.
func chartFile(section string, i int) string {
	var b strings.Builder
	for _, c := range section {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			b.WriteRune(c + 'a' - 'A')
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" {
		name = "section"
	}
	if i > 0 {
		name = fmt.Sprintf("%s-%d", name, i+1)
	}
	return "images/" + name + ".svg"
}
