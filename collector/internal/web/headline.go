package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// headlineComponents is how many components the headline names.
const headlineComponents = 3

// headlineView is what a capture page shows first: how idle the device was
// in the time profiled, how long it was busy, the windows, the top
// components and the requests.
type headlineView struct {
	Device, IdlePct, Busy, Span string
	Windows                     int
	WindowsTime                 string
	Components                  []componentView
	Requests                    int
}

type componentView struct{ Name, Time, Pct string }

// captureHeadline reads the figures from the capture's summary and, once it is
// analysed, the components section of its report.
func captureHeadline(s capture.Summary, rep *report.Report, requests int) *headlineView {
	if len(s.DeviceOrder) == 0 && len(s.Windows) == 0 {
		return nil
	}
	h := &headlineView{
		Span: numfmt.Micros(s.SpanUS.Float()), Windows: len(s.Windows), WindowsTime: numfmt.Micros(s.WindowsUS.Float()),
		Requests: requests,
	}
	if len(s.DeviceOrder) > 0 {
		d := s.Devices[s.DeviceOrder[0]]
		h.Device, h.IdlePct, h.Busy = s.DeviceOrder[0], numfmt.Pct(d.IdlePct, 2), numfmt.Micros(d.BusyUS.Float())
	}
	if rep != nil {
		h.Components = topComponents(rep.Sections)
	}
	return h
}

// topComponents sums the components section's rows by component, largest
// first.
func topComponents(sections []*sdk.Section) []componentView {
	type fig struct {
		name    string
		us, pct float64
	}
	var figs []fig
	for _, sec := range sections {
		if sec.Name != "components" {
			continue
		}
		at := map[string]int{}
		for _, r := range sec.Rows {
			name, _ := r["component"].(string)
			if name == "" {
				continue
			}
			i, ok := at[name]
			if !ok {
				i = len(figs)
				at[name] = i
				figs = append(figs, fig{name: name})
			}
			figs[i].us += report.Number(r["total_us"])
			figs[i].pct += report.Number(r["pct"])
		}
	}
	slices.SortFunc(figs, func(a, b fig) int { return cmp.Or(cmp.Compare(b.us, a.us), cmp.Compare(a.name, b.name)) })
	out := make([]componentView, 0, headlineComponents)
	for _, f := range figs[:min(len(figs), headlineComponents)] {
		out = append(out, componentView{Name: f.name, Time: numfmt.Micros(f.us), Pct: numfmt.Pct(f.pct, 1)})
	}
	return out
}

// optionsView is a capture's options as rows for people, and the workload
// body as indented JSON.
type optionsView struct {
	Rows []kv
	Body string
}

// options lays out capture options as a table.
func options(o *agentv1.CaptureOptions) *optionsView {
	v := &optionsView{}
	add := func(k, val string) { v.Rows = append(v.Rows, kv{k, val}) }
	level := func(n int32) string {
		if n <= 0 { // unset (a command cannot carry 0): the agent's policy, else the server's default
			return "agent's default"
		}
		return strconv.Itoa(int(n))
	}
	if b := o.GetBackend(); b != "" {
		add("Backend", b)
	}
	if d := o.GetDurationMs(); d > 0 {
		add("Duration", (time.Duration(d) * time.Millisecond).String())
	}
	if n := o.GetNumSteps(); n > 0 {
		add("Steps", numfmt.Int(n))
	}
	add("Host tracer level", level(o.GetHostTracerLevel()))
	add("Device tracer level", level(o.GetDeviceTracerLevel()))
	add("Python tracer level", level(o.GetPythonTracerLevel()))
	if g := o.GetGapPs(); g > 0 {
		add("Gap", numfmt.Duration(g))
	}
	if p := o.GetPadPs(); p > 0 {
		add("Pad", numfmt.Duration(p))
	}
	if o.GetKeepRaw() {
		add("Keep raw output", "yes")
	}
	if w := o.GetWorkload(); w != nil {
		add("Workload", cmp.Or(w.GetMethod(), "POST")+" "+w.GetEndpoint())
		add("Warm-up requests", strconv.Itoa(int(w.GetWarmups())))
		add("Profiled requests", strconv.Itoa(int(w.GetRequests())))
		if c := w.GetConcurrency(); c > 0 {
			add("Concurrency", strconv.Itoa(int(c)))
		}
		if r := w.GetRate(); r > 0 {
			add("Rate", numfmt.Value(r, "")+" requests/s")
		}
		if body := w.GetBody(); len(body) > 0 {
			var b bytes.Buffer
			if json.Indent(&b, body, "", "  ") == nil {
				v.Body = b.String()
			} else {
				v.Body = string(body)
			}
			const maxBody = 64 << 10
			if len(v.Body) > maxBody {
				v.Body = v.Body[:maxBody] + "\n…"
			}
		}
	}
	return v
}

// requestRows counts the rows of a report's requests section.
func requestRows(rep *report.Report) int {
	for _, sec := range rep.Sections {
		if sec.Name == "requests" {
			return len(sec.Rows)
		}
	}
	return 0
}
