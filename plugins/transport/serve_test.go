package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestServeHTTP: it serves until the context ends, then returns nil; a
// listener that fails ends it early with the error.
func TestServeHTTP(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, hs, lis) }()
	resp, err := http.Get("http://" + lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after the context ended: %v, want nil", err)
		}
	case <-time.After(ShutdownGrace + 5*time.Second):
		t.Fatal("ServeHTTP did not return after the context ended")
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	err = ServeHTTP(context.Background(), &http.Server{ReadHeaderTimeout: time.Second}, closed)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("on a closed listener: %v, want the accept error", err)
	}
}
