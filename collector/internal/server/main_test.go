package server

import (
	"os"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/leakcheck"
)

// Connections to the test servers end a little after they close: the
// check waits for them (leakcheck).
func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
