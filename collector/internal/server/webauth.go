package server

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/plugins/transport"
)

// TokenCookie is the cookie the web UI reads a bearer token from.
const TokenCookie = "fleetprof_token"

// http is the web UI's authentication: the API's tokens, from an
// "Authorization: Bearer" header or the TokenCookie cookie. GET and HEAD
// need the viewer role, POST the operator role; other methods are refused.
// In loopback development mode with no token, loopback callers are admins.
func (g *guard) http(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var want auth.Role
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			want = auth.Viewer
		case http.MethodPost:
			want = auth.Operator
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		role, reason, err := g.webRole(r)
		method := "HTTP " + r.Method
		switch {
		case err != nil:
			g.log.Error("token lookup", "error", err)
			http.Error(w, "cannot check the token now", http.StatusServiceUnavailable)
			return
		case reason != "":
			g.denied.WithLabelValues(method, reason).Inc()
			g.log.Warn("web request denied", "method", r.Method, "path", r.URL.Path, "peer", r.RemoteAddr, "reason", reason)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "unauthenticated: log in with a token at /login", http.StatusUnauthorized)
			return
		case role < want:
			g.denied.WithLabelValues(method, reasonRole).Inc()
			g.log.Warn("web request denied", "method", r.Method, "path", r.URL.Path, "peer", r.RemoteAddr, "reason", reasonRole)
			http.Error(w, "forbidden: role "+role.String()+" needs "+want.String(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// webRole returns the request's role, or a denial reason.
func (g *guard) webRole(r *http.Request) (auth.Role, string, error) {
	tok := ""
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = strings.TrimSpace(h)
	} else if c, err := r.Cookie(TokenCookie); err == nil {
		tok = c.Value
	}
	if tok == "" {
		if g.dev && transport.Loopback(r.RemoteAddr) && !g.anyTokens(r.Context()) {
			return auth.Admin, "", nil
		}
		return auth.None, reasonNoCredentials, nil
	}
	role, _, err := auth.Lookup(r.Context(), g.db, tok)
	if errors.Is(err, auth.ErrBadToken) {
		return auth.None, reasonBadToken, nil
	}
	return role, "", err
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>fleetprof: log in</title></head>
<body><h1>fleetprof</h1>{{if .}}<p>{{.}}</p>{{end}}
<form method="post" action="/login"><label>API token <input type="password" name="token" autocomplete="off" size="50"></label>
<button type="submit">Log in</button></form>
<p>Create a token with <code>fleetprof token create --role viewer --name you</code>.</p></body></html>
`))

// registerLogin adds /login: a form that checks a token and keeps it in an
// HttpOnly, SameSite=Strict cookie.
func (g *guard) registerLogin(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
		_ = loginPage.Execute(w, "")
	})
	mux.Handle("POST /login", cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		tok := strings.TrimSpace(r.PostFormValue("token"))
		if _, _, err := auth.Lookup(r.Context(), g.db, tok); err != nil {
			g.denied.WithLabelValues("HTTP POST /login", reasonBadToken).Inc()
			g.log.Warn("web login denied", "peer", r.RemoteAddr, "reason", reasonBadToken)
			w.WriteHeader(http.StatusUnauthorized)
			_ = loginPage.Execute(w, "invalid or revoked token")
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: TokenCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: r.TLS != nil, MaxAge: 12 * 3600,
		})
		http.Redirect(w, r, "/captures", http.StatusSeeOther)
	})))
}
