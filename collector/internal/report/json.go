package report

import (
	"encoding/json"
	"fmt"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// SchemaVersion is the version of the JSON report's schema
// (docs/report-schema.md). It changes only when a field is removed or changes
// meaning; new fields may appear without it changing.
const SchemaVersion = 1

// JSONName is the JSON report's file name.
const JSONName = "report.json"

// jsonReport is the JSON report. Field order is the output's.
type jsonReport struct {
	SchemaVersion int                    `json:"schema_version"`
	Title         string                 `json:"title"`
	Summary       capture.Summary        `json:"summary"`
	Order         []string               `json:"order"`
	Sections      map[string]jsonSection `json:"sections"`
}

// jsonSection is one analyzer's section. Lists are never null.
type jsonSection struct {
	Title   string       `json:"title"`
	Columns []sdk.Column `json:"columns"`
	Rows    []sdk.Row    `json:"rows"`
	Summary []sdk.Metric `json:"summary"`
	Charts  []sdk.Chart  `json:"charts"`
	Notes   []string     `json:"notes"`
	Error   string       `json:"error,omitempty"`
}

// JSON renders the report as indented JSON: schema_version, title, summary
// (what `fleetprof inspect --format json` prints), order (the section keys in
// display order) and sections keyed by analyzer name, each with title,
// columns, rows, summary, charts, notes and, when the analyzer failed, error.
func JSON(r *Report) ([]byte, error) {
	if r == nil {
		return nil, ErrNoReport
	}
	out := jsonReport{
		SchemaVersion: SchemaVersion,
		Title:         r.title(),
		Summary:       r.Summary,
		Order:         sectionKeys(r.Sections),
		Sections:      make(map[string]jsonSection, len(r.Sections)),
	}
	if out.Summary.Windows == nil {
		out.Summary.Windows = [][2]capture.Micros{}
	}
	if out.Summary.Devices == nil {
		out.Summary.Devices = map[string]capture.DeviceSummary{}
	}
	if out.Summary.DeviceOrder == nil {
		out.Summary.DeviceOrder = []string{}
	}
	for i, s := range r.Sections {
		if s == nil {
			s = &sdk.Section{Error: "the analyzer returned no section"}
		}
		js := jsonSection{
			Title:   s.Title,
			Columns: nonNil(s.Columns),
			Rows:    nonNil(s.Rows),
			Summary: nonNil(s.Summary),
			Charts:  nonNil(s.Charts),
			Notes:   nonNil(s.Notes),
			Error:   s.Error,
		}
		out.Sections[out.Order[i]] = js
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encode JSON: %w", err)
	}
	return append(b, '\n'), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
