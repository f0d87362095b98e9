// Package sdk is what a fleetprof plugin author imports: the Analyzer
// contract, Serve (a plugin binary's whole main), the types an analyzer sees,
// and helpers for the common work. The capture model it hands analyzers is
// package capture, beside this one.
//
// A plugin's main is one call:
//
//	func main() { sdk.Serve(myAnalyzer{}) }
package sdk

import (
	"context"
	"log/slog"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// Analyzer reads one capture and returns one report section.
type Analyzer interface {
	// Info names the analyzer. It is called once, before any Analyze.
	Info() Info
	// Analyze reads the capture in in and returns its section. It must honour
	// ctx: the host cancels it when its time is up.
	Analyze(ctx context.Context, in *Input) (*Section, error)
}

// Info describes an analyzer.
type Info struct {
	// Name is the section's key in reports, e.g. "top_ops". Lower snake case.
	Name string
	// Title is the section's heading for people, e.g. "Top device ops".
	Title string
	// Version is the analyzer's own version.
	Version string
	// Description says in one sentence what the section shows.
	Description string
	// Order places the section in reports: lower first. Built-ins use 10..90.
	Order int
}

// Input is what an analyzer sees of a capture.
type Input struct {
	// Capture is the trimmed capture: summary, windows, kept events and
	// dropped-event summaries.
	Capture *capture.Capture
	// Options are the analyzer's options from the host (for example
	// "rules" holding a bucketing rules document).
	Options map[string]string
	// Log writes to the plugin's stderr, which the host logs under the
	// plugin's name. Never nil when the SDK calls Analyze.
	Log *slog.Logger
}

// Section is one analyzer's part of a report.
type Section struct {
	// Name is the analyzer's name (Info.Name); the host fills it if empty.
	Name string `json:"name"`
	// Title is the heading for people.
	Title string `json:"title"`
	// Summary holds headline figures, in order.
	Summary []Metric `json:"summary,omitempty"`
	// Columns name the keys of Rows, in display order.
	Columns []Column `json:"columns,omitempty"`
	// Rows is the section's main table, sorted as it should be shown.
	Rows []Row `json:"rows"`
	// Charts are drawn beside the table.
	Charts []Chart `json:"charts,omitempty"`
	// Notes are sentences for people, shown under the table.
	Notes []string `json:"notes,omitempty"`
	// Error is set by the host when the analyzer failed; the rest is empty.
	Error string `json:"error,omitempty"`
}

// Metric is one named figure.
type Metric struct {
	// Key is a stable snake_case name, e.g. "idle_pct".
	Key string `json:"key"`
	// Label is the name shown to people.
	Label string `json:"label"`
	// Value is the figure.
	Value float64 `json:"value"`
	// Unit is "us", "%", "" and so on.
	Unit string `json:"unit,omitempty"`
}

// Column describes one key of a section's rows.
type Column struct {
	// Key is the row key.
	Key string `json:"key"`
	// Label is the heading shown to people.
	Label string `json:"label"`
	// Unit is "us", "%", "" and so on; numbers are formatted by it.
	Unit string `json:"unit,omitempty"`
}

// Row is one row of a section's table: string, float64 or int64 values by key.
type Row map[string]any

// Chart is data for one chart; the host draws it.
type Chart struct {
	// Kind is "bar" (labelled values) or "timeline" (intervals on lanes).
	Kind string `json:"kind"`
	// Title is the chart's caption.
	Title string `json:"title"`
	// Unit of the values, e.g. "us".
	Unit string `json:"unit,omitempty"`
	// Bars hold a bar chart's labelled values, in order.
	Bars []Bar `json:"bars,omitempty"`
	// Spans hold a timeline's intervals.
	Spans []Span `json:"spans,omitempty"`
}

// Bar is one labelled value of a bar chart.
type Bar struct {
	// Label names the bar.
	Label string `json:"label"`
	// Value is the bar's length.
	Value float64 `json:"value"`
}

// Span is one interval on a timeline lane, in µs relative to the capture's
// span start.
type Span struct {
	// Lane is the row the span sits on, e.g. "/device:TPU:0" or "windows".
	Lane string `json:"lane"`
	// Label is shown on or beside the span.
	Label string `json:"label,omitempty"`
	// Start is in µs from the span start.
	Start float64 `json:"start"`
	// End is in µs from the span start.
	End float64 `json:"end"`
}
