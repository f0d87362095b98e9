package server

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoopbackHostCheck is finding 10 of issue 13: in development mode the
// web UI answered any Host header, so a page whose name was made to
// resolve to 127.0.0.1 (DNS rebinding) could create schedules as an admin.
// Only loopback names with the collector's port are served now.
func TestLoopbackHostCheck(t *testing.T) {
	c := startCollector(t, t.TempDir())
	addr := c.srv.HTTPAddr()
	_, port, _ := net.SplitHostPort(addr)
	get := func(method, path, host string, body url.Values) (int, string) {
		t.Helper()
		var r io.Reader
		if body != nil {
			r = strings.NewReader(body.Encode())
		}
		req, err := http.NewRequest(method, "http://"+addr+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port} {
		if code, _ := get("GET", "/captures", host, nil); code != http.StatusOK {
			t.Errorf("GET /captures with Host %s: %d, want 200", host, code)
		}
	}
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "localhost", "127.0.0.1.nip.io:" + port} {
		for _, path := range []string{"/captures", "/metrics", "/schedules"} {
			code, body := get("GET", path, host, nil)
			if code != http.StatusMisdirectedRequest || !strings.Contains(body, "DNS rebinding") {
				t.Errorf("GET %s with Host %q: %d %q, want 421 naming DNS rebinding", path, host, code, body)
			}
		}
	}
	// What a rebinding page would send: a schedule form from its own origin.
	form := url.Values{"name": {"pwn"}, "spec": {"@every 1m"}, "selector": {""}}
	if code, _ := get("POST", "/schedules", "evil.example:"+port, form); code != http.StatusMisdirectedRequest {
		t.Errorf("POST /schedules with Host evil.example: %d, want 421", code)
	}
	if n := denied(c.srv, "HTTP GET", reasonHost); n < 15 {
		t.Errorf("denied{reason=%q} = %v, want at least 15", reasonHost, n)
	}
}

func TestLoopbackHosts(t *testing.T) {
	got := loopbackHosts("127.0.0.2:80")
	for _, h := range []string{"localhost:80", "localhost", "127.0.0.1:80", "[::1]:80", "127.0.0.2:80", "127.0.0.2"} {
		if !got[h] {
			t.Errorf("loopbackHosts(127.0.0.2:80) lacks %s", h)
		}
	}
	if got := loopbackHosts("[::1]:7071"); !got["[::1]:7071"] || got["[::1]"] {
		t.Errorf("loopbackHosts([::1]:7071) = %v", got)
	}
}
