package transporttest

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
	p := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on FreePort's %d: %v", p, err)
	}
	l.Close()
}

func TestWaitAddrs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrs.json")
	want := map[string]string{"http": "127.0.0.1:41234"}
	go func() {
		time.Sleep(50 * time.Millisecond) // the daemon binds, then writes
		_ = transport.WriteAddrFile(path, want)
	}()
	if got := WaitAddrs(t, path, nil); got["http"] != want["http"] || len(got) != 1 {
		t.Errorf("WaitAddrs = %v, want %v", got, want)
	}
}
