package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/labels"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestStartLabelLimits: a capture's own labels are bounded like an
// agent's (issue 13 finding 8), before any agent is asked.
func TestStartLabelLimits(t *testing.T) {
	tr := New(Config{})
	_, err := tr.Start(context.Background(), &collectorv1.StartCaptureRequest{Labels: map[string]string{"k": strings.Repeat("v", 257)}})
	if !errors.Is(err, ErrBadRequest) || !errors.Is(err, labels.ErrLimit) {
		t.Errorf("Start with a 257-byte label value = %v, want ErrBadRequest and labels.ErrLimit", err)
	}
}
