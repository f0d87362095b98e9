package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// hostile is a label value and name that would run script if unescaped.
const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

type fakeAgents []registry.Agent

func (f fakeAgents) List(_ context.Context, sel selector.Selector, _ bool) ([]registry.Agent, error) {
	var out []registry.Agent
	for _, a := range f {
		if sel.Matches(a.Labels) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f fakeAgents) Connections(sel selector.Selector) []registry.Agent {
	out, _ := f.List(context.Background(), sel, false)
	return out
}

type noStarter struct{}

func (noStarter) StartFor(context.Context, *collectorv1.StartCaptureRequest, fleet.Origin) (*collectorv1.StartCaptureResponse, error) {
	return nil, errors.New("not in this test")
}
func (noStarter) Pending(string) int { return 0 }

// testUI is a UI over a store in a temporary folder holding two captures:
// "cap-a" (analyzed, hostile labels) and "cap-b" (committed).
type testUI struct {
	db   *store.DB
	ui   *UI
	srv  *httptest.Server
	fpc  []byte
	mux  *http.ServeMux
	list *sched.Scheduler
}

func newTestUI(t *testing.T, mw func(http.Handler) http.Handler) *testUI {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	us := capture.Microsecond
	tu := &testUI{db: db}
	for i, id := range []string{"cap-a", "cap-b"} {
		cp := capturetest.Capture(1_770_000_000_000_000_000+int64(i)*1e9,
			capturetest.Op{TFOp: "jit(run)/layer0/attention/dot_general:dot_general", Start: 0, Dur: int64(10+10*i) * us},
			capturetest.Op{TFOp: "jit(run)/layer0/mlp/dot_general:dot_general", Start: 40 * us, Dur: 20 * us})
		data, sum := capturetest.Fpcap(cp)
		if i == 0 {
			tu.fpc = data
		}
		js, _ := json.Marshal(capture.Summarize(cp))
		err := db.Update(ctx, func(w *store.Writer) error {
			if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "tpu-1", Chunks: 1, Bytes: int64(len(data)), SHA256: sum}); err != nil {
				return err
			}
			if _, err := w.StageChunk(id, 0, 0, data); err != nil {
				return err
			}
			return w.Commit(&store.Capture{
				ID: id, AgentID: "tpu-1", Host: "host-1", Trigger: []string{"fleet", "schedule"}[i], ScheduleID: []string{"", "s-1"}[i],
				CreatedNS: time.Now().Add(time.Duration(i-10) * time.Minute).UnixNano(), SizeBytes: int64(len(data)), SHA256: sum,
				Labels: map[string]string{"model": "qwen3", "evil": hostile}, Summary: js,
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// cap-a gets a report (summary only: no plugins here).
	if _, err := analysis.New(analysis.Config{Store: db}).Analyze(ctx, "cap-a", nil, nil, true); err != nil {
		t.Fatal(err)
	}
	agents := fakeAgents{
		{ID: "tpu-1", Host: "host-1", Labels: map[string]string{"zone": hostile}, Connected: true, ServerHealthy: true, LastSeen: time.Now()},
		{ID: "tpu-2", Host: "host-2", Labels: map[string]string{"zone": "west"}, LastSeen: time.Now().Add(-time.Hour)},
	}
	tu.list = sched.New(sched.Config{Store: db, Agents: agents, Starter: noStarter{}})
	ui, err := New(Config{Store: db, Agents: agents, Schedules: tu.list, Middleware: mw, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tu.ui = ui
	tu.mux = http.NewServeMux()
	ui.Register(tu.mux)
	tu.srv = httptest.NewServer(tu.mux)
	t.Cleanup(tu.srv.Close)
	return tu
}

// get fetches a path without following redirects.
func (tu *testUI) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	rec := httptest.NewRecorder()
	tu.mux.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

func TestPages(t *testing.T) {
	tu := newTestUI(t, nil)
	tests := []struct {
		path   string
		status int
		want   string // in the body
	}{
		{"/", http.StatusFound, ""},
		{"/captures", http.StatusOK, `href="/captures/cap-a"`},
		{"/captures?trigger=schedule", http.StatusOK, `href="/schedules#s-1"`},
		{"/captures?status=analyzed", http.StatusOK, "cap-a"},
		{"/captures?selector=a%3Db%2C%2Cc", http.StatusBadRequest, "selector: bad syntax"},
		{"/captures?page=garbage", http.StatusOK, "That page no longer exists"},
		{"/captures/cap-a", http.StatusOK, "Window timeline"},
		{"/captures/cap-b", http.StatusOK, "analysis is pending"},
		{"/captures/nope", http.StatusNotFound, "No capture has the id"},
		{"/captures/..%2f..%2fetc", http.StatusNotFound, "No capture has that id"},
		{"/captures/..%2f..%2fetc%2fpasswd/capture.fpcap", http.StatusNotFound, ""},
		{"/captures/%2e%2e", http.StatusNotFound, ""},
		{"/captures/cap-a%2f..%2fcap-b", http.StatusNotFound, ""},
		{"/captures/nope/trace.json.gz", http.StatusNotFound, ""},
		{"/captures/nope/capture.fpcap", http.StatusNotFound, ""},
		{"/agents", http.StatusOK, "1 connected of 2 known"},
		{"/agents?selector=zone%3Dwest&refresh=10", http.StatusOK, `<meta http-equiv="refresh" content="10">`},
		{"/diff", http.StatusOK, `<option value="cap-b">`},
		{"/diff?a=cap-a&b=cap-b", http.StatusOK, "attention"},
		{"/diff?a=cap-a&b=nope", http.StatusNotFound, "No capture has that id: nope."},
		{"/diff?a=cap-a&b=..%2Fx", http.StatusBadRequest, "is not a capture id"},
		{"/schedules", http.StatusOK, "No schedules yet"},
		{"/static/style.css", http.StatusOK, "--accent"},
		{"/static/nope.css", http.StatusNotFound, ""},
		{"/static/..%2fweb.go", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		resp, body := tu.get(t, tt.path)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: body lacks %q", tt.path, tt.want)
		}
		if resp.StatusCode < 300 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", tt.path)
		}
	}
}

func TestDownloads(t *testing.T) {
	tu := newTestUI(t, nil)
	resp, body := tu.get(t, "/captures/cap-a/capture.fpcap")
	if resp.StatusCode != 200 || body != string(tu.fpc) || resp.Header.Get("Content-Disposition") != `attachment; filename="cap-a.fpcap"` {
		t.Errorf("fpcap download: %d, %d bytes, %q", resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"))
	}
	resp, body = tu.get(t, "/captures/cap-a/trace.json.gz")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "\x1f\x8b") || resp.Header.Get("Content-Type") != "application/gzip" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="cap-a.trace.json.gz"` {
		t.Errorf("trace download: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
	}
	_, page := tu.get(t, "/captures/cap-a")
	for _, want := range []string{`href="/captures/cap-a/trace.json.gz"`, "ui.perfetto.dev", "Open in Perfetto", `href="/captures/cap-a/capture.fpcap"`, `<script src="/static/perfetto.js"></script>`} {
		if !strings.Contains(page, want) {
			t.Errorf("capture page lacks %q", want)
		}
	}
}

// TestEscaping: hostile label values and schedule names show as text.
func TestEscaping(t *testing.T) {
	tu := newTestUI(t, nil)
	_, err := tu.list.Add(context.Background(), store.Schedule{Name: hostile, Spec: "@daily", Selector: "zone=west"})
	if err != nil {
		t.Fatal(err)
	}
	raw := regexp.MustCompile(`<script|<img`)
	for _, path := range []string{"/captures", "/captures/cap-a", "/agents", "/schedules", "/captures?selector=" + url.QueryEscape("evil="+hostile)} {
		resp, body := tu.get(t, path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		// Our own script is the one <script the pages may hold.
		body = strings.ReplaceAll(body, `<script src="/static/perfetto.js"></script>`, "")
		if m := raw.FindString(body); m != "" {
			t.Errorf("GET %s: unescaped %q in the page", path, m)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s: the hostile value is not shown escaped", path)
		}
	}
}

// TestReportBody: the report's sections are embedded with their text
// escaped, and without the report's own page around them.
func TestReportBody(t *testing.T) {
	rep := &report.Report{Title: "t", Sections: []*sdk.Section{{
		Name: "components", Title: "Device time by component",
		Columns: []sdk.Column{{Key: "component", Label: "Component"}, {Key: "total_us", Label: "Total", Unit: "us"}},
		Rows:    []sdk.Row{{"component": "attention.flash", "total_us": 12.5}, {"component": hostile, "total_us": 1.0}},
		Notes:   []string{hostile},
	}}}
	body, err := reportBody(rep)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	for _, bad := range []string{"<script", "<html", "<main", "<h1", "<style"} {
		if strings.Contains(s, bad) {
			t.Errorf("report body holds %q", bad)
		}
	}
	for _, want := range []string{`<section id="components">`, "<code>attention.flash</code>", "&lt;script&gt;"} {
		if !strings.Contains(s, want) {
			t.Errorf("report body lacks %q", want)
		}
	}
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestScheduleForms(t *testing.T) {
	tu := newTestUI(t, nil)
	fc := newFormClient(t, tu.srv.URL)
	jar, fetch := fc.jar, fc.fetch
	_, page := fetch("GET", "/schedules", nil, nil)
	m := tokenRE.FindStringSubmatch(page)
	if m == nil || len(jar.cookies) == 0 {
		t.Fatalf("schedules page has no CSRF token (%v) or cookie (%d)", m, len(jar.cookies))
	}
	token := m[1]
	add := url.Values{"name": {"hourly"}, "cron": {"@hourly"}, "selector": {"model=qwen3"}, "fraction": {"0.25"}, "jitter": {"1m"}, "duration": {"3s"}, "skip_if_busy": {"1"}}
	withToken := func(v url.Values, tok string) url.Values {
		c := url.Values{}
		for k, x := range v {
			c[k] = x
		}
		c.Set("csrf", tok)
		return c
	}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		hdr    map[string]string
		status int
		want   string
	}{
		{"no token", "/schedules", add, nil, http.StatusForbidden, "form has expired"},
		{"wrong token", "/schedules", withToken(add, "AAAA"), nil, http.StatusForbidden, ""},
		{"cross-site", "/schedules", withToken(add, token), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, ""},
		{"bad cron", "/schedules", withToken(url.Values{"name": {"x"}, "cron": {"every day"}}, token), nil, http.StatusBadRequest, "sched: bad schedule: cron spec"},
		{"bad number", "/schedules", withToken(url.Values{"name": {"x"}, "cron": {"@daily"}, "count": {"two"}}, token), nil, http.StatusBadRequest, "sample count"},
		{"add", "/schedules", withToken(add, token), nil, http.StatusSeeOther, ""},
		{"taken name", "/schedules", withToken(add, token), nil, http.StatusBadRequest, "exists"},
		{"unknown schedule", "/schedules/s-nope/pause", withToken(nil, token), nil, http.StatusNotFound, ""},
		{"unknown action", "/schedules/hourly/explode", withToken(nil, token), nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		resp, body := fetch("POST", tt.path, tt.form, tt.hdr)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: POST %s = %d (%q…), want %d with %q", tt.name, tt.path, resp.StatusCode, head(body), tt.status, tt.want)
		}
	}
	list, err := tu.list.List(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("schedules after the forms: %v, %v", list, err)
	}
	sc := list[0]
	if sc.Name != "hourly" || sc.SampleFraction != 0.25 || sc.JitterNS != int64(time.Minute) || !sc.SkipIfBusy || sc.Paused {
		t.Errorf("added schedule = %+v", sc)
	}
	for _, step := range []struct {
		action string
		paused bool
		flash  string
	}{{"pause", true, "Schedule paused."}, {"resume", false, "Schedule resumed."}} {
		resp, _ := fetch("POST", "/schedules/"+sc.ID+"/"+step.action, withToken(nil, token), nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.action, resp.StatusCode)
		}
		_, page := fetch("GET", resp.Header.Get("Location"), nil, nil)
		if got, _ := tu.list.Get(context.Background(), sc.ID); got.Paused != step.paused || !strings.Contains(page, step.flash) {
			t.Errorf("after %s: paused %v, flash shown %v", step.action, got.Paused, strings.Contains(page, step.flash))
		}
	}
	if resp, _ := fetch("POST", "/schedules/"+sc.ID+"/remove", withToken(nil, token), nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove: %d", resp.StatusCode)
	}
	if _, err := tu.list.Get(context.Background(), sc.ID); !errors.Is(err, sched.ErrNotFound) {
		t.Errorf("after remove: %v, want ErrNotFound", err)
	}
	// A link cannot put its own words on the page.
	if _, page := fetch("GET", "/schedules?done=Your+session+expired", nil, nil); strings.Contains(page, "session expired") {
		t.Error("the flash message comes from the URL")
	}
}

func head(s string) string { return s[:min(len(s), 200)] }

// formClient submits the UI's forms as a browser does: it keeps the
// server's cookies and does not follow redirects.
type formClient struct {
	t      *testing.T
	base   string // the server's URL
	jar    *cookieJar
	client *http.Client
}

// newFormClient returns a formClient for the server at base, holding the
// given cookies to start with.
func newFormClient(t *testing.T, base string, cookies ...*http.Cookie) *formClient {
	jar := &cookieJar{cookies: cookies}
	return &formClient{t: t, base: base, jar: jar, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fetch sends a request for path with form (URL-encoded, unless nil) and
// the headers, and returns the response and its body.
func (c *formClient) fetch(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// cookieJar keeps cookies for one test server.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) { j.cookies = append(j.cookies, cs...) }
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie          { return j.cookies }

// TestMiddleware: the authentication seam wraps every route.
func TestMiddleware(t *testing.T) {
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "who are you", http.StatusUnauthorized)
		})
	}
	tu := newTestUI(t, deny)
	for _, path := range []string{"/", "/captures", "/captures/cap-a", "/captures/cap-a/capture.fpcap", "/agents", "/diff", "/schedules", "/static/style.css"} {
		if resp, _ := tu.get(t, path); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s through a denying middleware: %d, want 401", path, resp.StatusCode)
		}
	}
	req := httptest.NewRequest("POST", "/schedules", bytes.NewReader(nil))
	rec := httptest.NewRecorder()
	tu.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("POST /schedules through a denying middleware: %d, want 401", rec.Code)
	}
}

func TestFormat(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct{ got, want string }{
		{size(512), "512 B"}, {size(1536), "1.5 KiB"}, {size(5 << 20), "5.0 MiB"}, {size(3 << 30), "3.00 GiB"},
		{micros(0), "0.000 µs"}, {micros(12.34), "12.340 µs"}, {micros(2834.7275), "2,834.727 µs (2.835 ms)"},
		{micros(80_000_000), "80,000,000.000 µs (80.000 s)"},
		{ago(now, now.Add(-90*time.Second)), "1m ago"}, {ago(now, now.Add(-25*time.Hour)), "25h00m ago"},
		{ago(now, now.Add(-72*time.Hour)), "3d ago"}, {ago(now, time.Time{}), "never"}, {ago(now, now.Add(time.Minute)), "in 1m"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: %q, want %q", i, tt.got, tt.want)
		}
	}
}

// TestPagination: 50 captures a page, newest first, "Older" and "Newest"
// links that keep the filters.
func TestPagination(t *testing.T) {
	tu := newTestUI(t, nil)
	ctx := context.Background()
	const extra = 60
	for i := range extra {
		id := fmt.Sprintf("page-%02d", i)
		data := []byte(id)
		sum := sha256.Sum256(data)
		err := tu.db.Update(ctx, func(w *store.Writer) error {
			if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "tpu-9", Chunks: 1, Bytes: int64(len(data)), SHA256: sum[:]}); err != nil {
				return err
			}
			if _, err := w.StageChunk(id, 0, 0, data); err != nil {
				return err
			}
			return w.Commit(&store.Capture{ID: id, AgentID: "tpu-9", Trigger: "manual", CreatedNS: time.Now().Add(time.Duration(i) * time.Second).UnixNano(), SizeBytes: int64(len(data))})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	linkRE := regexp.MustCompile(`<a href="([^"]+)">Older »</a>`)
	ids := regexp.MustCompile(`class="capture-link" href="/captures/([^"]+)"`)
	path := "/captures?agent=tpu-9"
	var pages [][]string
	for path != "" {
		resp, body := tu.get(t, path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		var got []string
		for _, m := range ids.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		pages = append(pages, got)
		if len(pages) > 1 && !strings.Contains(body, `href="/captures?agent=tpu-9">« Newest</a>`) {
			t.Errorf("page %d has no link back to the newest", len(pages))
		}
		path = ""
		if m := linkRE.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "agent=tpu-9") {
				t.Errorf("older link %q drops the agent filter", path)
			}
		}
	}
	if len(pages) != 2 || len(pages[0]) != 50 || len(pages[1]) != 10 || pages[0][0] != "page-59" || pages[1][9] != "page-00" {
		t.Errorf("pages of %d and %d, first %v…, want 50 then 10, newest (page-59) first", len(pages[0]), len(pages[len(pages)-1]), pages[0][:1])
	}
}
