package sdk

import (
	"fmt"
	"math"
	"slices"

	pluginv1 "github.com/fleetprof/fleetprof/proto/fleetprof/plugin/v1"
)

// Chart kinds.
const (
	// ChartBar is a bar chart of labelled values.
	ChartBar = "bar"
	// ChartTimeline is a timeline of intervals on lanes.
	ChartTimeline = "timeline"
)

// validName reports whether name is lower snake case: a letter, then
// letters, digits and '_', at most 64 bytes.
func validName(name string) bool {
	if name == "" || len(name) > 64 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Validate reports whether an analyzer's Info can be used: Name is lower
// snake case (a letter, then letters, digits and '_', at most 64).
func (i Info) Validate() error {
	if !validName(i.Name) {
		return fmt.Errorf("%w: name %q is not lower snake case (like \"top_ops\")", ErrInvalidInfo, i.Name)
	}
	return nil
}

// Validate reports whether s can be reported: its name, if set, is lower
// snake case; every figure is finite; row values are strings, float64 or
// int64 (other integer and float types are accepted and converted when the
// section is sent); column keys are set and unique; charts are "bar" or
// "timeline" and no span ends before it starts.
func (s *Section) Validate() error {
	_, err := sectionToProto(s)
	return err
}

// invalid wraps ErrInvalidSection.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSection, fmt.Sprintf(format, args...))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// sectionToProto validates s and converts it for the wire.
func sectionToProto(s *Section) (*pluginv1.Section, error) {
	if s == nil {
		return nil, invalid("no section (nil)")
	}
	if s.Name != "" && !validName(s.Name) {
		return nil, invalid("name %q is not lower snake case", s.Name)
	}
	out := &pluginv1.Section{Name: s.Name, Title: s.Title, Notes: slices.Clone(s.Notes)}
	for i, m := range s.Summary {
		if m.Key == "" {
			return nil, invalid("summary %d has no key", i)
		}
		if !finite(m.Value) {
			return nil, invalid("summary %q is %v", m.Key, m.Value)
		}
		out.Summary = append(out.Summary, &pluginv1.Metric{Key: m.Key, Label: m.Label, Value: m.Value, Unit: m.Unit})
	}
	seen := make(map[string]bool, len(s.Columns))
	for i, c := range s.Columns {
		if c.Key == "" {
			return nil, invalid("column %d has no key", i)
		}
		if seen[c.Key] {
			return nil, invalid("column %q appears twice", c.Key)
		}
		seen[c.Key] = true
		out.Columns = append(out.Columns, &pluginv1.Column{Key: c.Key, Label: c.Label, Unit: c.Unit})
	}
	for i, r := range s.Rows {
		pr := &pluginv1.Row{Cells: make(map[string]*pluginv1.Value, len(r))}
		for k, v := range r {
			pv, err := valueToProto(v)
			if err != nil {
				return nil, invalid("row %d, key %q: %v", i, k, err)
			}
			pr.Cells[k] = pv
		}
		out.Rows = append(out.Rows, pr)
	}
	for i, c := range s.Charts {
		if c.Kind != ChartBar && c.Kind != ChartTimeline {
			return nil, invalid("chart %d has kind %q, want %q or %q", i, c.Kind, ChartBar, ChartTimeline)
		}
		pc := &pluginv1.Chart{Kind: c.Kind, Title: c.Title, Unit: c.Unit}
		for _, b := range c.Bars {
			if !finite(b.Value) {
				return nil, invalid("chart %d, bar %q is %v", i, b.Label, b.Value)
			}
			pc.Bars = append(pc.Bars, &pluginv1.Bar{Label: b.Label, Value: b.Value})
		}
		for j, sp := range c.Spans {
			if !finite(sp.Start) || !finite(sp.End) || sp.End < sp.Start {
				return nil, invalid("chart %d, span %d is [%v, %v]", i, j, sp.Start, sp.End)
			}
			pc.Spans = append(pc.Spans, &pluginv1.Span{Lane: sp.Lane, Label: sp.Label, Start: sp.Start, End: sp.End})
		}
		out.Charts = append(out.Charts, pc)
	}
	return out, nil
}

// valueToProto converts one row value.
func valueToProto(v any) (*pluginv1.Value, error) {
	var i int64
	switch x := v.(type) {
	case string:
		return &pluginv1.Value{Kind: &pluginv1.Value_StringValue{StringValue: x}}, nil
	case float64:
		if !finite(x) {
			return nil, fmt.Errorf("value is %v", x)
		}
		return &pluginv1.Value{Kind: &pluginv1.Value_DoubleValue{DoubleValue: x}}, nil
	case float32:
		return valueToProto(float64(x))
	case int64:
		i = x
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int16:
		i = int64(x)
	case int8:
		i = int64(x)
	case uint32:
		i = int64(x)
	case uint16:
		i = int64(x)
	case uint8:
		i = int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("value %d overflows int64", x)
		}
		i = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("value %d overflows int64", x)
		}
		i = int64(x)
	default:
		return nil, fmt.Errorf("value of type %T, want string, float64 or int64", v)
	}
	return &pluginv1.Value{Kind: &pluginv1.Value_Int64Value{Int64Value: i}}, nil
}

// sectionFromProto converts and validates a section from the wire: row
// values come back as string, float64 or int64.
func sectionFromProto(p *pluginv1.Section) (*Section, error) {
	if p == nil {
		return nil, invalid("response has no section")
	}
	s := &Section{Name: p.GetName(), Title: p.GetTitle(), Notes: slices.Clone(p.GetNotes()), Rows: []Row{}}
	for _, m := range p.GetSummary() {
		s.Summary = append(s.Summary, Metric{Key: m.GetKey(), Label: m.GetLabel(), Value: m.GetValue(), Unit: m.GetUnit()})
	}
	for _, c := range p.GetColumns() {
		s.Columns = append(s.Columns, Column{Key: c.GetKey(), Label: c.GetLabel(), Unit: c.GetUnit()})
	}
	for i, r := range p.GetRows() {
		row := make(Row, len(r.GetCells()))
		for k, v := range r.GetCells() {
			switch x := v.GetKind().(type) {
			case *pluginv1.Value_StringValue:
				row[k] = x.StringValue
			case *pluginv1.Value_DoubleValue:
				row[k] = x.DoubleValue
			case *pluginv1.Value_Int64Value:
				row[k] = x.Int64Value
			default:
				return nil, invalid("row %d, key %q has no value", i, k)
			}
		}
		s.Rows = append(s.Rows, row)
	}
	for _, c := range p.GetCharts() {
		ch := Chart{Kind: c.GetKind(), Title: c.GetTitle(), Unit: c.GetUnit()}
		for _, b := range c.GetBars() {
			ch.Bars = append(ch.Bars, Bar{Label: b.GetLabel(), Value: b.GetValue()})
		}
		for _, sp := range c.GetSpans() {
			ch.Spans = append(ch.Spans, Span{Lane: sp.GetLane(), Label: sp.GetLabel(), Start: sp.GetStart(), End: sp.GetEnd()})
		}
		s.Charts = append(s.Charts, ch)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// infoToProto converts an Info for the wire.
func infoToProto(i Info) *pluginv1.InfoResponse {
	return &pluginv1.InfoResponse{
		Name: i.Name, Title: i.Title, Version: i.Version, Description: i.Description,
		Order:           int32(i.Order),
		ProtocolVersion: pluginv1.ProtocolVersion(ProtocolVersion),
	}
}

// infoFromProto converts and validates an Info from the wire.
func infoFromProto(p *pluginv1.InfoResponse) (Info, error) {
	if v := int(p.GetProtocolVersion()); v != ProtocolVersion {
		return Info{}, fmt.Errorf("%w: plugin speaks protocol %d, host %d: rebuild the plugin with this SDK", ErrProtocol, v, ProtocolVersion)
	}
	i := Info{
		Name: p.GetName(), Title: p.GetTitle(), Version: p.GetVersion(),
		Description: p.GetDescription(), Order: int(p.GetOrder()),
	}
	if err := i.Validate(); err != nil {
		return Info{}, err
	}
	if i.Title == "" {
		i.Title = i.Name
	}
	return i, nil
}
