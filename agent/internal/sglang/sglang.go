// Package sglang is a client for the sglang-jax server's HTTP API: health,
// server and model info, and the profiler endpoints. The server answers
// every profiler failure with a bare HTTP 500; the client reports status
// codes and bodies as they are, and the backend turns them into named
// errors.
package sglang

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors.
var (
	// ErrUnauthorized means the server wants an API key, or a different one.
	ErrUnauthorized = errors.New("sglang: 401 Unauthorized: the server was started with --api-key: pass the same key with --api-key")
	// ErrUnhealthy means GET /health did not answer 200.
	ErrUnhealthy = errors.New("sglang: the server is not healthy (GET /health)")
	// ErrBadURL means the server URL is not an http(s) URL.
	ErrBadURL = errors.New("sglang: bad server URL: want http://host:port")
)

// StatusError is a non-2xx answer.
type StatusError struct {
	// Method and Path say what was asked.
	Method, Path string
	// Code is the HTTP status code.
	Code int
	// Body is the start of the answer's body.
	Body string
}

// Error says which call answered which status.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("sglang: %s %s: HTTP %d", e.Method, e.Path, e.Code)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Options configure a Client. The zero value of each field works.
type Options struct {
	// APIKey, if set, is sent as Authorization: Bearer.
	APIKey string
	// HTTPClient does the requests. Nil means a client with no overall
	// timeout (each call is bounded by its ctx and Timeout).
	HTTPClient *http.Client
	// Timeout bounds each call that is not a profile stop. Zero means 30s.
	Timeout time.Duration
}

// Client talks to one sglang-jax server.
type Client struct {
	base    *url.URL
	apiKey  string
	hc      *http.Client
	timeout time.Duration
}

// New returns a client for the server at base (e.g. http://127.0.0.1:30000).
func New(base string, opts Options) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, base)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Client{base: u, apiKey: opts.APIKey, hc: hc, timeout: opts.Timeout}, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// APIKey returns the API key the client sends, if any.
func (c *Client) APIKey() string { return c.apiKey }

// Health asks GET /health.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/health", nil, c.timeout)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnhealthy, err)
	}
	return nil
}

// WaitHealthy polls GET /health every interval until it answers 200 or ctx
// is done.
func (c *Client) WaitHealthy(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := c.Health(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s/health: %w (last: %w)", c.base, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// ServerInfo returns GET /get_server_info as JSON values.
func (c *Client) ServerInfo(ctx context.Context) (map[string]any, error) {
	return c.getJSON(ctx, "/get_server_info")
}

// ModelInfo returns GET /get_model_info as JSON values.
func (c *Client) ModelInfo(ctx context.Context) (map[string]any, error) {
	return c.getJSON(ctx, "/get_model_info")
}

// ProfileStatus returns "in_progress" or "idle" from GET /profile_status.
func (c *Client) ProfileStatus(ctx context.Context) (string, error) {
	m, err := c.getJSON(ctx, "/profile_status")
	if err != nil {
		return "", err
	}
	s, _ := m["status"].(string)
	if s == "" {
		return "", fmt.Errorf("sglang: GET /profile_status: no status in the answer")
	}
	return s, nil
}

// StartRequest is the body of POST /start_profile; zero fields are left out.
type StartRequest struct {
	// OutputDir is where the server writes plugins/profile/<run>/.
	OutputDir string `json:"output_dir,omitempty"`
	// NumSteps auto-stops the profile after N forward steps.
	NumSteps int64 `json:"num_steps,omitempty"`
	// HostTracerLevel is 0-3.
	HostTracerLevel *int32 `json:"host_tracer_level,omitempty"`
	// PythonTracerLevel is 0-1.
	PythonTracerLevel *int32 `json:"python_tracer_level,omitempty"`
	// DeviceTracerLevel is ignored by unpatched servers.
	DeviceTracerLevel *int32 `json:"device_tracer_level,omitempty"`
}

// StartProfile calls POST /start_profile.
func (c *Client) StartProfile(ctx context.Context, req StartRequest) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, "/start_profile", body, c.timeout)
	return err
}

// StopProfile calls POST /stop_profile, which answers after the files are
// written; it is bounded by ctx only.
func (c *Client) StopProfile(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/stop_profile", nil, 0)
	return err
}

// Do sends a request to path with the client's key and returns the status
// code; the body is read (up to 1 MiB) and dropped. It is for the workload.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, error) {
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

func (c *Client) getJSON(ctx context.Context, path string) (map[string]any, error) {
	b, err := c.do(ctx, http.MethodGet, path, nil, c.timeout)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("sglang: GET %s: the answer is not a JSON object: %w", path, err)
	}
	return m, nil
}

func (c *Client) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	u := *c.base
	u.Path += path
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// do sends a request and returns the body of a 2xx answer (up to 16 MiB).
func (c *Client) do(ctx context.Context, method, path string, body []byte, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sglang: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("sglang: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%s %s: %w", method, path, ErrUnauthorized)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return nil, &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: msg}
	}
	return b, nil
}
