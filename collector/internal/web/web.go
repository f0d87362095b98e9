// Package web is the collector's web UI: agents, captures (filterable, with
// their reports), diffs, schedules, and downloads of the trimmed trace and
// the .fpcap. Pages are rendered on the server with html/template from
// embedded templates and one stylesheet; nothing needs JavaScript. Forms
// that change state are POSTs guarded by a CSRF token and the standard
// library's cross-origin protection.
//
// Authentication is a seam: Config.Middleware wraps every handler. The
// collector passes one that takes the API's bearer tokens (GET needs the
// viewer role, POST operator) and, since --http is plain HTTP, serves the
// UI only on a loopback address unless --public-ui.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ErrConfig means Config lacks a required field.
var ErrConfig = errors.New("web: Store, Agents and Schedules are required")

// Agents is what the UI needs of the registry.
type Agents interface {
	// List returns the agents that match sel: connected ones and, with
	// all, those the store remembers.
	List(ctx context.Context, sel selector.Selector, all bool) ([]registry.Agent, error)
}

// Config configures the UI. Store, Agents and Schedules are required.
type Config struct {
	// Store holds captures and reports.
	Store *store.DB
	// Agents lists the agents.
	Agents Agents
	// Schedules manages capture schedules.
	Schedules *sched.Scheduler
	// Rules bucket ops into components for the diff. Nil means bucket.Default().
	Rules *bucket.Rules
	// Insights answers the fleet, agent, schedule and regression pages.
	// Nil leaves those pages out.
	Insights Insights
	// Experiments lists and gets experiments for the experiment pages. Nil
	// leaves those pages out.
	Experiments Experiments
	// Fleet starts fleet captures from the UI and shows their progress. Nil
	// leaves the start-a-capture pages out.
	Fleet FleetCaptures
	// SessionCookie names the cookie that holds the signed-in user's
	// credential; forms' CSRF tokens are tied to it (and to the
	// Authorization header), so a token is good only for the session it
	// was issued to. Empty ties them to the browser's nonce cookie alone.
	SessionCookie string
	// Middleware, if set, wraps every handler: the seam for authentication.
	Middleware func(http.Handler) http.Handler
	// Now is the time for "ago" columns. Nil means time.Now.
	Now func() time.Time
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
}

// UI serves the pages.
type UI struct {
	cfg     Config
	log     *slog.Logger
	pages   map[string]*template.Template
	csrfKey []byte
	static  http.Handler
}

// New parses the templates and returns the UI.
func New(cfg Config) (*UI, error) {
	if cfg.Store == nil || cfg.Agents == nil || cfg.Schedules == nil {
		return nil, ErrConfig
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rules == nil {
		cfg.Rules = bucket.Default()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &UI{cfg: cfg, log: log.With("component", "web"), pages: map[string]*template.Template{}, csrfKey: make([]byte, 32)}
	if _, err := rand.Read(u.csrfKey); err != nil {
		return nil, fmt.Errorf("web: csrf key: %w", err)
	}
	base, err := template.New("layout.tmpl").Funcs(funcs).ParseFS(templateFS, "templates/layout.tmpl", "templates/insight_parts.tmpl")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, page := range append(append([]string{"agents", "captures", "capture", "diff", "schedules", "error", "start", "fleetcapture"}, insightPages...), experimentPages...) {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+page+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", page, err)
		}
		u.pages[page] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	u.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return u, nil
}

// route is one of the UI's pages or actions: a ServeMux pattern and its
// handler.
type route struct {
	pattern string
	h       http.HandlerFunc
}

// Register adds the UI's routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	routes := []route{
		{"GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/captures", http.StatusFound) }},
		{"GET /static/", u.static.ServeHTTP},
		{"GET /agents", u.agents},
		{"GET /captures", u.captures},
		{"GET /captures/{id}", u.capture},
		{"GET /captures/{id}/trace.json.gz", u.trace},
		{"GET /captures/{id}/capture.fpcap", u.fpcap},
		{"GET /diff", u.diff},
		{"GET /schedules", u.schedules},
		{"POST /schedules", u.addSchedule},
		{"POST /schedules/{id}/{action}", u.changeSchedule},
	}
	routes = append(routes, u.insightRoutes()...)
	routes = append(routes, u.experimentRoutes()...)
	routes = append(routes, u.fleetRoutes()...)
	for _, rt := range routes {
		var h http.Handler = rt.h
		if rt.pattern[:4] == "POST" {
			h = cop.Handler(u.checkCSRF(h))
		}
		if u.cfg.Middleware != nil {
			h = u.cfg.Middleware(h)
		}
		mux.Handle(rt.pattern, headers(h))
	}
}

// headers sets the security headers of every response.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// script-src and connect-src 'self': our own small scripts
		// (static/perfetto.js fetches the trace it hands to Perfetto).
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// page is what the layout draws around a page's content.
type page struct {
	Title   string
	Nav     string
	Flash   string
	Error   string
	Refresh int
	CSRF    string
	Data    any
}

// render writes a page, buffered, so a template error becomes a clean 500.
func (u *UI) render(w http.ResponseWriter, status int, name string, p *page) {
	var b bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		u.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error (see the collector's log)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail renders an error page: known errors say what went wrong, others are
// logged and shown as an internal error.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if status >= 500 {
		u.log.Error("web request failed", "path", r.URL.Path, "error", err)
		msg = "Something went wrong on the collector; its log has the details."
	}
	title := http.StatusText(status)
	u.render(w, status, "error", &page{Title: title, Data: msg})
}

// notFound renders the 404 page.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request, what string) {
	u.fail(w, r, http.StatusNotFound, what, nil)
}
