package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

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
