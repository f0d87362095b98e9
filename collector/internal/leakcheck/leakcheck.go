// Package leakcheck finds goroutines a daemon package's tests left behind:
// any goroutine still running the collector's code or gRPC's after the tests
// end is a leak (grpc-go's leakcheck, in small).
package leakcheck

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// suspects are the packages whose goroutines must be gone.
var suspects = []string{"github.com/fleetprof/fleetprof/collector/", "google.golang.org/grpc"}

// leaked returns the stacks of the goroutines that should be gone: those
// running suspect code, except the test runner's and this one.
func leaked() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "leakcheck.leaked") || strings.Contains(firstFrame(g), "testing.") {
			continue
		}
		for _, s := range suspects {
			if strings.Contains(g, s) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// firstFrame is a goroutine's innermost function line.
func firstFrame(g string) string {
	lines := strings.SplitN(g, "\n", 3)
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// Main runs the tests and then fails if goroutines leaked, waiting up to
// five seconds for stragglers to end. Use it as TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := leaked()
		if len(l) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Printf("leakcheck: %d goroutine(s) left after the tests:\n\n%s\n", len(l), strings.Join(l, "\n\n"))
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
}
