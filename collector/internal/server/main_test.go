package server

import (
	"testing"

	"go.uber.org/goleak"
)

// The GCS client's opencensus dependency starts a worker at init that
// never ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}
