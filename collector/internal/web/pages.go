package web

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// pageSize is how many captures a list page shows.
const pageSize = 50

type agentRow struct {
	ID, Host, AgentVersion, ServerVersion string
	Labels                                []kv
	Connected, ServerHealthy              bool
	ServerRestarts                        int64
	Spool                                 string
	ActiveCapture                         string
	LastSeenAgo, LastSeenUTC              string
}

func (u *UI) agents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := struct {
		Selector  string
		Rows      []agentRow
		Connected int
	}{Selector: q.Get("selector")}
	p := &page{Title: "Agents", Nav: "agents", Data: &data}
	if q.Get("refresh") != "" {
		p.Refresh = 10
	}
	sel, err := selector.Parse(data.Selector)
	if err != nil {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "agents", p)
		return
	}
	agents, err := u.cfg.Agents.List(r.Context(), sel, true)
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	now := u.cfg.Now()
	for _, a := range agents {
		if a.Connected {
			data.Connected++
		}
		data.Rows = append(data.Rows, agentRow{
			ID: a.ID, Host: a.Host, AgentVersion: a.AgentVersion, ServerVersion: a.ServerVersion,
			Labels: sortedPairs(a.Labels), Connected: a.Connected, ServerHealthy: a.ServerHealthy,
			ServerRestarts: a.ServerRestarts, Spool: size(a.SpoolBytes), ActiveCapture: a.ActiveCapture,
			LastSeenAgo: ago(now, a.LastSeen), LastSeenUTC: utc(a.LastSeen),
		})
	}
	u.render(w, http.StatusOK, "agents", p)
}

type captureRow struct {
	ID, AgentID, Host, Trigger, ScheduleID, Status string
	Schedule                                       string // its name, else its id
	Created, CreatedUTC                            string
	Span, OpTime, Size                             string
	Labels                                         []kv
}

// summaryOf decodes a record's summary; a bad one reads as empty.
func summaryOf(c *store.Capture) capture.Summary {
	var s capture.Summary
	if len(c.Summary) > 0 {
		_ = json.Unmarshal(c.Summary, &s)
	}
	return s
}

func (u *UI) captures(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := struct {
		Selector, Trigger, Status, Agent string
		Triggers, Statuses               []string
		Filtered, CanStart               bool
		Rows                             []captureRow
		First, Next                      string
	}{
		Selector: q.Get("selector"), Trigger: q.Get("trigger"), Status: q.Get("status"), Agent: q.Get("agent"),
		Triggers: []string{"", "manual", "fleet", "schedule"},
		Statuses: []string{"", store.StatusCommitted, store.StatusAnalyzed, store.StatusAnalysisFailed},
	}
	data.Filtered = data.Selector != "" || data.Trigger != "" || data.Status != "" || data.Agent != ""
	data.CanStart = u.cfg.Fleet != nil
	p := &page{Title: "Captures", Nav: "captures", Data: &data}
	sel, err := selector.Parse(data.Selector)
	if err != nil {
		p.Error = err.Error()
		u.render(w, http.StatusBadRequest, "captures", p)
		return
	}
	f := store.Filter{Selector: sel, Trigger: data.Trigger, Status: data.Status, AgentID: data.Agent, Limit: pageSize, PageToken: q.Get("page")}
	var list []store.Capture
	var next string
	err = u.cfg.Store.View(r.Context(), func(rd *store.Reader) (err error) {
		list, next, err = rd.List(f)
		return err
	})
	if errors.Is(err, store.ErrNotFound) { // a bad page token
		p.Error = "That page no longer exists; showing the newest captures."
		f.PageToken = ""
		err = u.cfg.Store.View(r.Context(), func(rd *store.Reader) (err error) {
			list, next, err = rd.List(f)
			return err
		})
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	link := func(token string) string {
		v := url.Values{}
		for k, x := range map[string]string{"selector": data.Selector, "trigger": data.Trigger, "status": data.Status, "agent": data.Agent, "page": token} {
			if x != "" {
				v.Set(k, x)
			}
		}
		if len(v) == 0 {
			return "/captures"
		}
		return "/captures?" + v.Encode()
	}
	if next != "" {
		data.Next = link(next)
	}
	if f.PageToken != "" {
		data.First = link("")
	}
	now := u.cfg.Now()
	names := u.scheduleNames(r)
	for i := range list {
		c := &list[i]
		s := summaryOf(c)
		created := time.Unix(0, c.CreatedNS)
		data.Rows = append(data.Rows, captureRow{
			ID: c.ID, AgentID: c.AgentID, Host: c.Host, Trigger: c.Trigger, ScheduleID: c.ScheduleID, Status: c.Status,
			Schedule: cmp.Or(names[c.ScheduleID], c.ScheduleID),
			Created:  ago(now, created), CreatedUTC: utc(created), Span: micros(s.SpanUS.Float()),
			OpTime: micros(s.NonIdleOpUS.Float()), Size: size(c.SizeBytes), Labels: sortedPairs(c.Labels),
		})
	}
	u.render(w, http.StatusOK, "captures", p)
}

// scheduleNames maps schedule ids to names; a schedule removed since shows
// by its id.
func (u *UI) scheduleNames(r *http.Request) map[string]string {
	list, err := u.cfg.Schedules.List(r.Context())
	if err != nil {
		u.log.Warn("list schedules", "error", err)
	}
	names := make(map[string]string, len(list))
	for _, s := range list {
		names[s.ID] = s.Name
	}
	return names
}

// captureID returns the {id} of the path if it can name a capture.
func captureID(r *http.Request) (string, bool) {
	id := r.PathValue("id")
	return id, store.ValidID(id)
}

// loadCapture calls load with the capture id in the request's path and
// returns the id, or answers and returns false: 404 for an id that is not
// valid or no capture's (load's store.ErrNotFound), 500 for another error
// of load's.
func (u *UI) loadCapture(w http.ResponseWriter, r *http.Request, load func(id string) error) (string, bool) {
	id, ok := captureID(r)
	if !ok {
		u.notFound(w, r, "No capture has that id.")
		return "", false
	}
	err := load(id)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("No capture has the id %q.", id))
		return "", false
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return "", false
	}
	return id, true
}

type timelineView struct {
	Start, End, Label string
	Windows           []windowView
	// Links are the first timelineLinks windows, listed to zoom; More
	// counts the rest (reachable from the drawing).
	Links []windowView
	More  int
}

type windowView struct {
	N          int
	X, W, Y, H string
	Title      string
	// Href zooms the page to the window; Zoomed marks the one shown.
	Href   template.URL
	Zoomed bool
}

// timeline draws the non-idle windows across the capture's span, each a
// link that zooms the page to it (zoom, from 1; 0 for none).
func timeline(s capture.Summary, id string, zoom int) *timelineView {
	start, end := s.SpanStartUS.Float(), s.SpanEndUS.Float()
	if len(s.Windows) == 0 || end <= start {
		return nil
	}
	span := end - start
	v := &timelineView{
		Start: "0", End: micros(span),
		Label: fmt.Sprintf("%d non-idle window(s), %s of %s", len(s.Windows), micros(s.WindowsUS.Float()), micros(span)),
	}
	for i, win := range s.Windows {
		a, b := win[0].Float(), win[1].Float()
		x := 1000 * (a - start) / span
		wd := max(1000*(b-a)/span, 4) // always visible, and wide enough to click
		x = min(x, 1000-wd)
		y, h := "18", "22"
		if i+1 == zoom {
			y, h = "10", "38"
		}
		v.Windows = append(v.Windows, windowView{
			N: i + 1, X: strconv.FormatFloat(x, 'f', 2, 64), W: strconv.FormatFloat(wd, 'f', 2, 64), Y: y, H: h,
			Title:  fmt.Sprintf("window %d: %s – %s (%s): click to zoom", i+1, micros(a-start), micros(b-start), micros(b-a)),
			Href:   template.URL("/captures/" + url.PathEscape(id) + "?window=" + strconv.Itoa(i+1) + "#zoom"),
			Zoomed: i+1 == zoom,
		})
	}
	v.Links = v.Windows[:min(len(v.Windows), timelineLinks)]
	v.More = len(v.Windows) - len(v.Links)
	return v
}

func (u *UI) capture(w http.ResponseWriter, r *http.Request) {
	var c *store.Capture
	id, ok := u.loadCapture(w, r, func(id string) error {
		return u.cfg.Store.View(r.Context(), func(rd *store.Reader) (err error) {
			c, err = rd.Capture(id)
			return err
		})
	})
	if !ok {
		return
	}
	data := struct {
		C                  *store.Capture
		Created, Size, SHA string
		Schedule           string
		Labels, Context    []kv
		Options            *optionsView
		Headline           *headlineView
		Timeline           *timelineView
		Zoom               int
		Flame              template.HTML
		Requests           template.HTML
		Report             template.HTML
		NoReport           string
	}{
		C: c, Created: utc(time.Unix(0, c.CreatedNS)) + " UTC", Size: size(c.SizeBytes), SHA: hex.EncodeToString(c.SHA256),
		Labels: sortedPairs(c.Labels), Context: sortedPairs(c.Context),
		Schedule: cmp.Or(u.scheduleNames(r)[c.ScheduleID], c.ScheduleID),
	}
	sum := summaryOf(c)
	if z, err := strconv.Atoi(r.URL.Query().Get("window")); err == nil && z >= 1 && z <= len(sum.Windows) {
		data.Zoom = z
	}
	data.Timeline = timeline(sum, id, data.Zoom)
	if len(c.Options) > 0 {
		var o agentv1.CaptureOptions
		if proto.Unmarshal(c.Options, &o) == nil {
			data.Options = options(&o)
		}
	}
	if data.Zoom > 0 {
		kept, _, err := analysis.Load(r.Context(), u.cfg.Store, id)
		if err != nil {
			u.log.Warn("no window flame chart", "capture_id", id, "error", err)
		} else {
			data.Flame = windowFlame(kept, data.Zoom)
		}
	}
	var err error
	if data.Requests, err = u.requestsSection(r.Context(), r, id); err != nil {
		u.log.Warn("no requests timeline", "capture_id", id, "error", err)
	}
	rep, err := analysis.Stored(r.Context(), u.cfg.Store, id)
	if err == nil {
		data.Headline = captureHeadline(sum, rep, requestRows(rep))
	} else {
		data.Headline = captureHeadline(sum, nil, 0)
	}
	switch {
	case errors.Is(err, analysis.ErrNoReport):
		data.NoReport = "This capture has no report yet: its analysis is pending. Reload in a moment."
	case err != nil:
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	default:
		if data.Report, err = reportBody(rep); err != nil {
			u.fail(w, r, http.StatusInternalServerError, "", err)
			return
		}
	}
	u.render(w, http.StatusOK, "capture", &page{Title: id, Nav: "captures", Data: &data})
}

// reportBody renders a report with report.HTML and keeps what is inside its
// <main> after the title: the navigation, summary and sections, with their
// tables and SVG charts. The page is html/template's output, escaped there.
func reportBody(rep *report.Report) (template.HTML, error) {
	page, err := report.HTML(rep)
	if err != nil {
		return "", err
	}
	i, j := bytes.Index(page, []byte("<main>")), bytes.LastIndex(page, []byte("</main>"))
	if i < 0 || j < i {
		return "", errors.New("web: the report page has no <main>")
	}
	body := page[i+len("<main>") : j]
	if k := bytes.Index(body, []byte("</h1>")); k >= 0 {
		body = body[k+len("</h1>"):]
	}
	return template.HTML(body), nil // #nosec: rendered by html/template
}

// trace serves the trimmed capture as Chrome trace JSON, gzipped.
func (u *UI) trace(w http.ResponseWriter, r *http.Request) {
	var c *capture.Capture
	id, ok := u.loadCapture(w, r, func(id string) (err error) {
		c, _, err = analysis.Load(r.Context(), u.cfg.Store, id)
		return err
	})
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := export.Write(&b, export.TraceJSONGz, c); err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	download(w, id+".trace.json.gz", "application/gzip", b.Bytes())
}

// fpcap serves the stored .fpcap as it is.
func (u *UI) fpcap(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	id, ok := u.loadCapture(w, r, func(id string) error {
		return u.cfg.Store.View(r.Context(), func(rd *store.Reader) error {
			_, err := rd.WriteBlob(id, &b)
			return err
		})
	})
	if !ok {
		return
	}
	download(w, id+".fpcap", "application/octet-stream", b.Bytes())
}

// download writes a file as an attachment. name is a ValidID plus a fixed
// suffix, so it needs no quoting beyond the quotes.
func download(w http.ResponseWriter, name, ctype string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(name, `"`, "")+`"`)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
