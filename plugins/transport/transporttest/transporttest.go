// Package transporttest helps tests find the daemons they start. Start a
// daemon on port 0 with --addr-file and read the bound addresses back
// (WaitAddrs). FreePort remains only for a port that must be known before
// anything listens on it: the model server the agent wraps (the agent is
// told its URL before starting it, and restarts it on the same port), or
// an address where nothing listens.
package transporttest

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

// WaitAddrs waits until a daemon started with --addr-file path has written
// the addresses it listens on, and returns them by name ("grpc", "http",
// ...). It fails the test if exited (nil: not watched) is closed first, or
// if the file does not appear within a minute.
func WaitAddrs(t testing.TB, path string, exited <-chan struct{}) map[string]string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		addrs, err := transport.ReadAddrFile(path)
		switch {
		case err == nil:
			return addrs
		case !errors.Is(err, fs.ErrNotExist):
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatalf("no address file %s after a minute: the daemon is not listening", path)
		}
		select {
		case <-exited:
			t.Fatalf("the daemon exited before writing its address file %s", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// handedOut holds the ports FreePort returned, so that two calls in a row
// never return the same one (the kernel may offer a port again once closed).
var handedOut sync.Map

// FreePort returns a loopback TCP port that was free a moment ago and that
// no earlier call in this test binary returned. Another process may take
// it before the daemon binds it: prefer port 0 and WaitAddrs.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, dup := handedOut.LoadOrStore(port, true); !dup {
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// Metric returns the value of the sample line name (with its labels,
// exactly as exposed) in a daemon's /metrics at url, or "" when it is not
// there or the daemon does not answer.
func Metric(url, name string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}
