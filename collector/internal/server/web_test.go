package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7071", true},
		{"127.0.0.2:80", true},
		{"[::1]:7071", true},
		{"localhost:7071", true},
		{"0.0.0.0:7071", false},
		{"[::]:7071", false},
		{"10.0.0.5:7071", false},
		{"collector.example:7071", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := loopback(tt.addr); got != tt.want {
			t.Errorf("loopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestWebUIServed: the UI hangs off the collector's HTTP address next to
// /metrics and /healthz.
func TestWebUIServed(t *testing.T) {
	c := startCollector(t, t.TempDir())
	base := "http://" + c.srv.HTTPAddr()
	for _, tt := range []struct{ path, want string }{
		{"/captures", "<h1>Captures</h1>"},
		{"/agents", "<h1>Agents</h1>"},
		{"/schedules", "<h1>Schedules</h1>"},
		{"/healthz", "ok"},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), tt.want) {
			t.Errorf("GET %s: %d, body has %q: %v", tt.path, resp.StatusCode, tt.want, strings.Contains(string(b), tt.want))
		}
	}
}
