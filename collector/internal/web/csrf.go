package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// csrfCookie holds the browser's CSRF nonce; forms carry its HMAC.
const csrfCookie = "fleetprof_csrf"

// maxForm bounds a form body.
const maxForm = 64 << 10

// csrfToken returns the token forms must carry, setting the nonce cookie
// when the browser has none.
func (u *UI) csrfToken(w http.ResponseWriter, r *http.Request) string {
	nonce := ""
	if c, err := r.Cookie(csrfCookie); err == nil && validNonce(c.Value) {
		nonce = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		nonce = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: nonce, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
	}
	return u.sign(nonce, u.session(r))
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// sign is a form's token: the HMAC of the browser's nonce and the
// session's credential, so a token leaked from one session is no good in
// another.
func (u *UI) sign(nonce, session string) string {
	m := hmac.New(sha256.New, u.csrfKey)
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session returns the request's credential: its Authorization header and
// the Config.SessionCookie cookie ("" for neither).
func (u *UI) session(r *http.Request) string {
	s := r.Header.Get("Authorization")
	if u.cfg.SessionCookie != "" {
		if c, err := r.Cookie(u.cfg.SessionCookie); err == nil {
			s += "\x00" + c.Value
		}
	}
	return s
}

// checkCSRF refuses a POST whose form token is not the HMAC of the nonce
// cookie.
func (u *UI) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		c, err := r.Cookie(csrfCookie)
		if err != nil || !validNonce(c.Value) || r.ParseForm() != nil ||
			!hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(u.sign(c.Value, u.session(r)))) {
			u.fail(w, r, http.StatusForbidden, "This form has expired or did not come from this page: reload the page and try again.", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}
