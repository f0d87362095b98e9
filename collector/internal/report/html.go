package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

// HTMLName is the HTML report's file name.
const HTMLName = "report.html"

//go:embed report.html.tmpl
var htmlSource string

// HTML renders the report as one self-contained page: inline CSS and SVG
// charts, no scripts, nothing fetched. Each table lists its top rows, and
// every row (up to 500) under "All rows".
func HTML(r *Report) ([]byte, error) {
	v, err := buildView(r)
	if err != nil {
		return nil, err
	}
	// Parsed per call: a template is cheap to parse and this keeps the
	// package free of global state.
	t, err := template.New("report").Funcs(template.FuncMap{
		"svg": func(b []byte) template.HTML {
			// Our own drawing: every text in it is escaped by svg.go.
			return template.HTML(b)
		},
		"long": func(s string) bool { return len(s) > 32 },
		"dict": func(h []viewColumn, rows [][]string) tableView { return tableView{Header: h, Rows: rows} },
	}).Parse(htmlSource)
	if err != nil {
		return nil, fmt.Errorf("report: parse HTML template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("report: render HTML: %w", err)
	}
	return b.Bytes(), nil
}

// tableView is what the "table" template draws.
type tableView struct {
	Header []viewColumn
	Rows   [][]string
}
