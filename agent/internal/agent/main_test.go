package agent

import (
	"testing"

	"github.com/fleetprof/fleetprof/agent/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
