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
	return u.sign(nonce)
}

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func (u *UI) sign(nonce string) string {
	m := hmac.New(sha256.New, u.csrfKey)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF refuses a POST whose form token is not the HMAC of the nonce
// cookie.
func (u *UI) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		c, err := r.Cookie(csrfCookie)
		if err != nil || !validNonce(c.Value) || r.ParseForm() != nil ||
			!hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(u.sign(c.Value))) {
			u.fail(w, r, http.StatusForbidden, "This form has expired or did not come from this page: reload the page and try again.", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}
