// Package transporttest gives tests a loopback port for a daemon that must
// know its port before it starts: a model server the agent wraps, a
// collector restarted on the same address, an address where nothing
// listens. Otherwise start the daemon on port 0 and read the bound address
// back.
package transporttest

import (
	"net"
	"sync"
	"testing"
)

// handedOut holds the ports FreePort returned, so that two calls in a row
// never return the same one (the kernel may offer a port again once closed).
var handedOut sync.Map

// FreePort returns a loopback TCP port that was free a moment ago and that
// no earlier call in this test binary returned.
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
