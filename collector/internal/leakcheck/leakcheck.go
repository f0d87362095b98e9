// Package leakcheck is go.uber.org/goleak's check at the end of a test
// binary, for the packages whose tests talk to servers over HTTP (the GCS
// emulator) and gRPC: a connection's goroutines end shortly after it is
// closed, and on a loaded machine later than goleak's own retries (about
// 0.4 s) wait. Main waits up to stragglerWait for them before it fails.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// stragglerWait bounds how long Main waits for goroutines that are ending.
const stragglerWait = 5 * time.Second

// Main runs the tests and then fails if goroutines leaked. It returns the
// exit code:
//
//	func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	// The GCS client's opencensus dependency starts a worker at init that
	// never ends.
	ignore := goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")
	deadline := time.Now().Add(stragglerWait)
	for {
		err := goleak.Find(ignore) // retries for about 0.4 s itself
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "leakcheck:", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}
