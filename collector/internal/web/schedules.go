package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

type scheduleRow struct {
	ID, Name, Cron, Selector string
	Sample, Limits           string
	Paused                   bool
	Next, Last, LastResult   string
}

// scheduleForm is the add form's fields, as typed.
type scheduleForm struct {
	Name, Cron, Selector, Fraction, Count, Jitter, MaxConcurrent, Duration string
	SkipIfBusy, Paused                                                     bool
}

func (u *UI) schedules(w http.ResponseWriter, r *http.Request) {
	u.renderSchedules(w, r, http.StatusOK, &page{Flash: doneText[r.URL.Query().Get("done")]}, scheduleForm{Duration: "2s"})
}

func (u *UI) renderSchedules(w http.ResponseWriter, r *http.Request, status int, p *page, form scheduleForm) {
	list, err := u.cfg.Schedules.List(r.Context())
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	data := struct {
		Rows []scheduleRow
		Form scheduleForm
	}{Form: form}
	now := u.cfg.Now()
	for _, s := range list {
		row := scheduleRow{ID: s.ID, Name: s.Name, Cron: s.Spec, Selector: s.Selector, Paused: s.Paused, LastResult: s.LastResult, Next: "–", Last: "never"}
		switch {
		case s.SampleCount > 0:
			row.Sample = fmt.Sprintf("%d agent(s)", s.SampleCount)
		case s.SampleFraction > 0:
			row.Sample = fmt.Sprintf("%g%% of agents", 100*s.SampleFraction)
		default:
			row.Sample = "every agent"
		}
		var limits []string
		if s.JitterNS > 0 {
			limits = append(limits, "jitter "+time.Duration(s.JitterNS).String())
		}
		if s.MaxConcurrent > 0 {
			limits = append(limits, fmt.Sprintf("at most %d in flight", s.MaxConcurrent))
		}
		if s.SkipIfBusy {
			limits = append(limits, "skip if busy")
		}
		row.Limits = strings.Join(limits, " · ")
		if s.NextRunNS != 0 {
			t := time.Unix(0, s.NextRunNS)
			row.Next = utc(t) + " (" + ago(now, t) + ")"
		}
		if s.LastRunNS != 0 {
			row.Last = utc(time.Unix(0, s.LastRunNS))
		}
		data.Rows = append(data.Rows, row)
	}
	p.Title, p.Nav, p.Data, p.CSRF = "Schedules", "schedules", &data, u.csrfToken(w, r)
	u.render(w, status, "schedules", p)
}

// addSchedule handles the add form.
func (u *UI) addSchedule(w http.ResponseWriter, r *http.Request) {
	f := scheduleForm{
		Name: strings.TrimSpace(r.PostFormValue("name")), Cron: strings.TrimSpace(r.PostFormValue("cron")),
		Selector: strings.TrimSpace(r.PostFormValue("selector")), Fraction: strings.TrimSpace(r.PostFormValue("fraction")),
		Count: strings.TrimSpace(r.PostFormValue("count")), Jitter: strings.TrimSpace(r.PostFormValue("jitter")),
		MaxConcurrent: strings.TrimSpace(r.PostFormValue("max_concurrent")), Duration: strings.TrimSpace(r.PostFormValue("duration")),
		SkipIfBusy: r.PostFormValue("skip_if_busy") != "", Paused: r.PostFormValue("paused") != "",
	}
	sc, err := f.schedule()
	if err == nil {
		sc, err = u.cfg.Schedules.Add(r.Context(), sc)
	}
	if err != nil {
		if !errors.Is(err, errForm) && !errors.Is(err, sched.ErrBadSchedule) && !errors.Is(err, sched.ErrExists) && !errors.Is(err, store.ErrBadID) {
			u.fail(w, r, http.StatusInternalServerError, "", err)
			return
		}
		u.renderSchedules(w, r, http.StatusBadRequest, &page{Error: err.Error()}, f)
		return
	}
	http.Redirect(w, r, "/schedules?done=added#"+url.PathEscape(sc.ID), http.StatusSeeOther)
}

// errForm marks a form field that does not parse.
var errForm = errors.New("web: bad form field")

// schedule parses the form into a schedule.
func (f scheduleForm) schedule() (store.Schedule, error) {
	s := store.Schedule{Name: f.Name, Spec: f.Cron, Selector: f.Selector, SkipIfBusy: f.SkipIfBusy, Paused: f.Paused}
	var err error
	num := func(field, v string, parse func(string) error) {
		if v == "" || err != nil {
			return
		}
		if perr := parse(v); perr != nil {
			err = fmt.Errorf("%w: %s %q: %v", errForm, field, v, perr)
		}
	}
	var dur time.Duration
	num("sample fraction", f.Fraction, func(v string) (e error) { s.SampleFraction, e = strconv.ParseFloat(v, 64); return e })
	num("sample count", f.Count, func(v string) (e error) { s.SampleCount, e = strconv.Atoi(v); return e })
	num("max concurrent", f.MaxConcurrent, func(v string) (e error) { s.MaxConcurrent, e = strconv.Atoi(v); return e })
	num("jitter", f.Jitter, func(v string) error { d, e := time.ParseDuration(v); s.JitterNS = int64(d); return e })
	num("duration", f.Duration, func(v string) (e error) { dur, e = time.ParseDuration(v); return e })
	if err != nil {
		return s, err
	}
	if dur < 0 {
		return s, fmt.Errorf("%w: duration must not be negative", errForm)
	}
	// The tracer levels are left to each agent's policy, as the CLI's
	// capture, schedule add and experiment leave them by default
	// (package captureopt: -1 is unset).
	s.Options, err = proto.Marshal(&agentv1.CaptureOptions{DurationMs: dur.Milliseconds(), HostTracerLevel: -1, DeviceTracerLevel: -1, PythonTracerLevel: -1})
	return s, err
}

// changeSchedule pauses, resumes or removes a schedule.
func (u *UI) changeSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !store.ValidID(id) {
		u.notFound(w, r, "No schedule has that id.")
		return
	}
	var err error
	action := r.PathValue("action")
	switch action {
	case "pause":
		_, err = u.cfg.Schedules.Pause(r.Context(), id)
	case "resume":
		_, err = u.cfg.Schedules.Resume(r.Context(), id)
	case "remove":
		_, err = u.cfg.Schedules.Remove(r.Context(), id)
	default:
		u.notFound(w, r, "No such action.")
		return
	}
	if errors.Is(err, sched.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("No schedule has the id %q.", id))
		return
	}
	if err != nil {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	http.Redirect(w, r, "/schedules?done="+strings.TrimSuffix(action, "e")+"ed", http.StatusSeeOther)
}

// doneText is the message after a change; fixed texts, so a link cannot put
// words on the page.
var doneText = map[string]string{
	"added": "Schedule added.", "paused": "Schedule paused.", "resumed": "Schedule resumed.", "removed": "Schedule removed.",
}
