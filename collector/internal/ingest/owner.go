package ingest

import (
	"errors"
	"fmt"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// checkOwner returns ErrNotOwner unless agent may upload capture id. A
// capture id is bound to one agent: to the agent it was commanded to (fleet
// and scheduled captures: the command stored when they started), and
// otherwise (ad-hoc captures) to the first agent that staged or committed
// it. The refusal does not say which of these bound it, nor to whom.
func checkOwner(r *store.Reader, id, agent string) error {
	owner := ""
	switch cmd, err := r.Command(id); {
	case err == nil:
		owner = cmd.AgentID
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("check the owner of %s: %w", id, err)
	}
	if owner == "" {
		switch c, err := r.Capture(id); {
		case err == nil:
			owner = c.AgentID
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("check the owner of %s: %w", id, err)
		}
	}
	if owner == "" {
		switch u, err := r.Upload(id); {
		case err == nil:
			owner = u.AgentID
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("check the owner of %s: %w", id, err)
		}
	}
	if owner != "" && owner != agent {
		return fmt.Errorf("%w: %s (uploaded by %q)", ErrNotOwner, id, agent)
	}
	return nil
}
