// Package leaktest finds goroutines a package's tests left running: call
// Main from TestMain. It looks for goroutines whose stacks run the agent's
// own code, so library housekeeping goroutines do not count.
package leaktest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then fails the run if goroutines running agent code
// are still alive after a grace period of up to 5 s.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := wait(5 * time.Second); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "leaktest: %d goroutine(s) leaked:\n\n%s\n", len(leaks), strings.Join(leaks, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

func wait(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		leaks := Leaked()
		if len(leaks) == 0 || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Leaked returns the stacks of goroutines running agent code, other than
// the caller's and test bodies'.
func Leaked() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "github.com/fleetprof/fleetprof/agent/") ||
			strings.Contains(g, "agent/internal/leaktest.") ||
			strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*M).") {
			continue
		}
		out = append(out, g)
	}
	return out
}
