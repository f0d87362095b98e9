package web_test

import (
	"os"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/leakcheck"
)

func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }
