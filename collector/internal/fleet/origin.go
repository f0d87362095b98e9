package fleet

import (
	"slices"

	"github.com/fleetprof/fleetprof/collector/internal/registry"
)

// Origin says who starts a fleet capture other than a person: a schedule.
// The zero value is a person's fleet capture on every matching agent.
type Origin struct {
	// Trigger is the captures' trigger. Empty means "fleet".
	Trigger string
	// ScheduleID is the schedule that started it, if any.
	ScheduleID string
	// AgentIDs, if not nil, limits the capture to these agents (those of
	// them still connected and matching).
	AgentIDs []string
}

func (o Origin) trigger() string {
	if o.Trigger == "" {
		return "fleet"
	}
	return o.Trigger
}

// filter keeps the agents the origin names.
func (o Origin) filter(agents []registry.Agent) []registry.Agent {
	if o.AgentIDs == nil {
		return agents
	}
	return slices.DeleteFunc(agents, func(a registry.Agent) bool { return !slices.Contains(o.AgentIDs, a.ID) })
}

// Pending returns how many captures of a fleet capture have no final result
// yet; 0 for a fleet capture it does not know (finished and forgotten, or
// from before a restart).
func (t *Tracker) Pending(fleetID string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fleets[fleetID]
	if f == nil {
		return 0
	}
	n := 0
	for _, p := range f.parts {
		if !final(p.result) {
			n++
		}
	}
	return n
}
