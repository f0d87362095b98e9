package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// FleetCaptures starts fleet captures and reports their progress
// (fleet.Tracker).
type FleetCaptures interface {
	// Start sends a capture command to every connected agent the request's
	// selector matches.
	Start(ctx context.Context, req *collectorv1.StartCaptureRequest) (*collectorv1.StartCaptureResponse, error)
	// Watch calls send with the fleet capture's state now and after each
	// change, until it is done or send returns an error.
	Watch(ctx context.Context, fleetID string, send func(*collectorv1.WatchFleetCaptureResponse) error) error
}

// Bounds of a capture started from the UI.
const (
	maxUIDuration = 10 * time.Minute
	maxUIRequests = 1000
)

// startForm is the start-a-capture form as typed.
type startForm struct {
	Selector, Duration, Endpoint, Body, Warmups, Requests string
}

// errStopWatch ends a Watch after its first snapshot.
var errStopWatch = errors.New("web: one snapshot")

// fleetRoutes are the start-a-capture routes; none without Fleet.
func (u *UI) fleetRoutes() []route {
	if u.cfg.Fleet == nil {
		return nil
	}
	return []route{
		{"GET /capture", u.startPage},
		{"POST /capture", u.startCapture},
		{"GET /fleet-captures/{id}", u.fleetProgress},
	}
}

func (u *UI) startPage(w http.ResponseWriter, r *http.Request) {
	u.renderStart(w, r, http.StatusOK, &page{}, startForm{Selector: r.URL.Query().Get("selector"), Duration: "2s", Warmups: "1", Requests: "2"})
}

func (u *UI) renderStart(w http.ResponseWriter, r *http.Request, status int, p *page, f startForm) {
	p.Title, p.Nav, p.Data, p.CSRF = "Start a capture", "captures", &f, u.csrfToken(w, r)
	u.render(w, status, "start", p)
}

// startCapture starts a fleet capture from the form (operator role: the
// collector's middleware checks it on every POST) and shows its progress.
func (u *UI) startCapture(w http.ResponseWriter, r *http.Request) {
	f := startForm{
		Selector: strings.TrimSpace(r.PostFormValue("selector")), Duration: strings.TrimSpace(r.PostFormValue("duration")),
		Endpoint: strings.TrimSpace(r.PostFormValue("endpoint")), Body: r.PostFormValue("body"),
		Warmups: strings.TrimSpace(r.PostFormValue("warmups")), Requests: strings.TrimSpace(r.PostFormValue("requests")),
	}
	req, err := f.request()
	if err == nil {
		var resp *collectorv1.StartCaptureResponse
		if resp, err = u.cfg.Fleet.Start(r.Context(), req); err == nil {
			http.Redirect(w, r, "/fleet-captures/"+url.PathEscape(resp.GetFleetId()), http.StatusSeeOther)
			return
		}
	}
	if !errors.Is(err, errForm) && !errors.Is(err, fleet.ErrNoAgents) && !errors.Is(err, fleet.ErrBadRequest) && !errors.Is(err, fleet.ErrBusy) {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	u.renderStart(w, r, http.StatusBadRequest, &page{Error: err.Error()}, f)
}

// request parses the form into a capture request.
func (f startForm) request() (*collectorv1.StartCaptureRequest, error) {
	if _, err := selector.Parse(f.Selector); err != nil {
		return nil, fmt.Errorf("%w: selector %q: %v", errForm, f.Selector, err)
	}
	d, err := time.ParseDuration(f.Duration)
	if err != nil || d <= 0 || d > maxUIDuration {
		return nil, fmt.Errorf("%w: duration %q: want e.g. 2s, at most %s", errForm, f.Duration, maxUIDuration)
	}
	opts := &agentv1.CaptureOptions{DurationMs: d.Milliseconds(), HostTracerLevel: -1, DeviceTracerLevel: -1, PythonTracerLevel: -1}
	if f.Endpoint != "" || strings.TrimSpace(f.Body) != "" {
		if !strings.HasPrefix(f.Endpoint, "/") {
			return nil, fmt.Errorf("%w: workload endpoint %q: want a path such as /v1/score", errForm, f.Endpoint)
		}
		count := func(field, v string) (int32, error) {
			if v == "" {
				return 0, nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxUIRequests {
				return 0, fmt.Errorf("%w: %s %q: want 0 to %d", errForm, field, v, maxUIRequests)
			}
			return int32(n), nil
		}
		warm, err := count("warm-up requests", f.Warmups)
		if err != nil {
			return nil, err
		}
		reqs, err := count("profiled requests", f.Requests)
		if err != nil {
			return nil, err
		}
		opts.Workload = &agentv1.Workload{Endpoint: f.Endpoint, Method: http.MethodPost, Body: []byte(f.Body), Warmups: warm, Requests: reqs}
	}
	return &collectorv1.StartCaptureRequest{Selector: f.Selector, Options: opts}, nil
}

// fleetProgress shows a fleet capture's parts, one row per agent, and
// reloads itself until every part is final.
func (u *UI) fleetProgress(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var snap *collectorv1.WatchFleetCaptureResponse
	err := u.cfg.Fleet.Watch(r.Context(), id, func(s *collectorv1.WatchFleetCaptureResponse) error {
		snap = s
		return errStopWatch
	})
	if errors.Is(err, fleet.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("No fleet capture has the id %q.", id))
		return
	}
	if err != nil && !errors.Is(err, errStopWatch) {
		u.fail(w, r, http.StatusInternalServerError, "", err)
		return
	}
	type row struct{ Agent, Capture, State, Result, Message string }
	data := struct {
		ID   string
		Done bool
		Rows []row
	}{ID: id, Done: snap.GetDone()}
	for _, a := range snap.GetAgents() {
		state := strings.ToLower(strings.TrimPrefix(a.GetState().String(), "CAPTURE_STATE_"))
		result := strings.ToLower(strings.TrimPrefix(a.GetResult().String(), "AGENT_RESULT_"))
		data.Rows = append(data.Rows, row{Agent: a.GetAgentId(), Capture: a.GetCaptureId(), State: state, Result: result, Message: a.GetMessage()})
	}
	p := &page{Title: "Fleet capture " + id, Nav: "captures", Data: &data}
	if !data.Done {
		p.Refresh = 1
	}
	u.render(w, http.StatusOK, "fleetcapture", p)
}
