package simserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedInputs returns the seed run's inputs folder, or skips.
func seedInputs(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the package: cannot find ../shared/testdata")
		}
		dir = parent
	}
	in := filepath.Join(dir, "..", "shared", "testdata", "seed-run", "inputs")
	if _, err := os.Stat(in); err != nil {
		t.Skipf("seed inputs missing (%v): the shared test data sits beside the checkout", err)
	}
	return in
}

// readInput reads one of the seed's input files.
func readInput(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(seedInputs(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startServer serves a new Server over httptest on loopback.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "sim-host"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// reply is an HTTP answer.
type reply struct {
	code        int
	contentType string
	body        string
}

// call sends one request with an optional body and header.
func call(t *testing.T, method, url string, body []byte, header map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}
