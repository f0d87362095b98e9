package sched

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// TestScheduleLabelLimits: a schedule's labels, copied into every capture
// it starts, are bounded like an agent's (issue 13 finding 8).
func TestScheduleLabelLimits(t *testing.T) {
	_, err := validate(&store.Schedule{Name: "n", Spec: "@hourly", Labels: map[string]string{strings.Repeat("k", 129): "v"}})
	if !errors.Is(err, ErrBadSchedule) || !errors.Is(err, labels.ErrLimit) {
		t.Errorf("validate(a 129-byte label key) = %v, want ErrBadSchedule and labels.ErrLimit", err)
	}
}
