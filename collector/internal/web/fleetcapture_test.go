package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeFleet starts fleet capture f-1 and reports two agents' parts.
type fakeFleet struct {
	mu   sync.Mutex
	reqs []*collectorv1.StartCaptureRequest
	done bool
}

func (f *fakeFleet) Start(_ context.Context, req *collectorv1.StartCaptureRequest) (*collectorv1.StartCaptureResponse, error) {
	if req.GetSelector() == "zone=nowhere" {
		return nil, fleet.ErrNoAgents
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	return &collectorv1.StartCaptureResponse{FleetId: "f-1"}, nil
}

func (f *fakeFleet) Watch(_ context.Context, id string, send func(*collectorv1.WatchFleetCaptureResponse) error) error {
	if id != "f-1" {
		return fleet.ErrNotFound
	}
	f.mu.Lock()
	done := f.done
	f.mu.Unlock()
	state := agentv1.CaptureState_CAPTURE_STATE_PROFILING
	if done {
		state = agentv1.CaptureState_CAPTURE_STATE_DONE
	}
	return send(&collectorv1.WatchFleetCaptureResponse{FleetId: id, Done: done, Agents: []*collectorv1.AgentCapture{
		{AgentId: "tpu-1", CaptureId: "f-1.tpu-1", State: state},
		{AgentId: "tpu-2", CaptureId: "f-1.tpu-2", State: state},
	}})
}

// TestStartCapture: the form starts a fleet capture with the selector,
// duration and workload typed, then the progress page shows each agent
// and reloads until done; a POST without this session's token, from
// another session, or cross-site is refused.
func TestStartCapture(t *testing.T) {
	tu := newTestUI(t, nil)
	ff := &fakeFleet{}
	ui, err := New(Config{Store: tu.db, Agents: fakeAgents{}, Schedules: tu.list, Fleet: ff, SessionCookie: "fleetprof_token", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ui.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fc := newFormClient(t, srv.URL, &http.Cookie{Name: "fleetprof_token", Value: "session-1"})
	jar, fetch := fc.jar, fc.fetch
	_, page := fetch("GET", "/capture", nil, nil)
	m := tokenRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `name="body"`) {
		t.Fatalf("start page has no token (%v) or no workload body field", m)
	}
	body := `{"text": "hello"}`
	form := func(tok string, kv ...string) url.Values {
		v := url.Values{"csrf": {tok}, "selector": {"model=qwen3"}, "duration": {"3s"}, "endpoint": {"/v1/score"}, "body": {body}, "warmups": {"1"}, "requests": {"2"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	// A token is tied to the session it was issued to.
	nonce := ""
	for _, c := range jar.cookies {
		if c.Name == csrfCookie {
			nonce = c.Value
		}
	}
	otherToken := ui.sign(nonce, "\x00session-2") // a valid token of session-2
	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		want   string
	}{
		{"no token", form(""), nil, http.StatusForbidden, "form has expired"},
		{"another session's token", form(otherToken), nil, http.StatusForbidden, ""},
		{"cross-site", form(m[1]), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
		{"foreign origin", form(m[1]), map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, ""},
		{"bad duration", form(m[1], "duration", "soon"), nil, http.StatusBadRequest, "duration"},
		{"bad endpoint", form(m[1], "endpoint", "v1/score"), nil, http.StatusBadRequest, "endpoint"},
		{"no agents", form(m[1], "selector", "zone=nowhere"), nil, http.StatusBadRequest, "no connected agent"},
		{"start", form(m[1]), nil, http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		resp, got := fetch("POST", "/capture", tt.form, tt.hdr)
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("%s: POST /capture = %d (%q…), want %d with %q", tt.name, resp.StatusCode, head(got), tt.status, tt.want)
		}
		if tt.name == "start" && resp.Header.Get("Location") != "/fleet-captures/f-1" {
			t.Errorf("start redirects to %q, want /fleet-captures/f-1", resp.Header.Get("Location"))
		}
	}
	if len(ff.reqs) != 1 {
		t.Fatalf("%d fleet captures started, want 1", len(ff.reqs))
	}
	req := ff.reqs[0]
	w := req.GetOptions().GetWorkload()
	if req.GetSelector() != "model=qwen3" || req.GetOptions().GetDurationMs() != 3000 || w.GetEndpoint() != "/v1/score" || string(w.GetBody()) != body || w.GetWarmups() != 1 || w.GetRequests() != 2 {
		t.Errorf("started %v", req)
	}

	_, page = fetch("GET", "/fleet-captures/f-1", nil, nil)
	for _, want := range []string{`http-equiv="refresh"`, `href="/captures/f-1.tpu-1"`, "tpu-2", "profiling"} {
		if !strings.Contains(page, want) {
			t.Errorf("progress page under way lacks %q", want)
		}
	}
	ff.mu.Lock()
	ff.done = true
	ff.mu.Unlock()
	_, page = fetch("GET", "/fleet-captures/f-1", nil, nil)
	if strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, "Every agent is done") || !strings.Contains(page, ">done<") {
		t.Errorf("progress page when done: %q", head(page))
	}
	if resp, _ := fetch("GET", "/fleet-captures/f-nope", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown fleet capture: %d, want 404", resp.StatusCode)
	}
}
