// Package leakcheck is what the registry's and the backup's tests still
// call to check for leaked goroutines; it is go.uber.org/goleak. New tests
// call goleak.VerifyTestMain directly; this package goes once those two
// do.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs the tests and then fails if goroutines leaked (goleak's
// check, which retries for stragglers). It returns the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	// The GCS client's opencensus dependency starts a worker at init that
	// never ends.
	if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
		fmt.Fprintln(os.Stderr, "leakcheck:", err)
		return 1
	}
	return 0
}
