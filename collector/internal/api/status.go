// Package api implements the collector's gRPC services: AgentService for
// agents (control and upload streams, served by the registry and ingest) and
// CollectorService for people and tools. Errors leave through one boundary,
// toStatus.
package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/experiment"
	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/labels"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/sched"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// errBadRequest marks a request field that is out of range.
var errBadRequest = errors.New("api: bad request")

// codeOf maps the errors clients may see, by code; anything else is Internal.
var codeOf = []struct {
	code codes.Code
	errs []error
}{
	{codes.NotFound, []error{store.ErrNotFound, fleet.ErrNotFound, sched.ErrNotFound, watch.ErrNoFleet, experiment.ErrNotFound}},
	{codes.InvalidArgument, []error{
		errBadRequest, store.ErrBadID, ingest.ErrBadID, ingest.ErrBadStart, ingest.ErrProtocol,
		ingest.ErrMalformed, ingest.ErrChunkTooLarge, ingest.ErrTooLarge, ingest.ErrEmptyChunks,
		fleet.ErrBadRequest, selector.ErrSyntax,
		registry.ErrNoRegister, ids.ErrBadAgent, registry.ErrTooBig, labels.ErrLimit, analysis.ErrUnknownAnalyzer, export.ErrUnknownFormat,
		sched.ErrBadSchedule, auth.ErrBadRole, auth.ErrBadName, watch.ErrBadQuery,
		experiment.ErrBadSpec, experiment.ErrUnknownFormat,
	}},
	{codes.DataLoss, []error{ingest.ErrChecksum}},
	{codes.ResourceExhausted, []error{ingest.ErrBusy, ingest.ErrAgentBusy, registry.ErrOutboxFull, fleet.ErrBusy, experiment.ErrBusy}},
	{codes.DeadlineExceeded, []error{ingest.ErrNoStart, ingest.ErrIdle}},
	{codes.FailedPrecondition, []error{ingest.ErrSequence, ingest.ErrSize, store.ErrSequence, fleet.ErrNoAgents, analysis.ErrNoReport, watch.ErrNoSummary}},
	{codes.PermissionDenied, []error{registry.ErrIdentity, ingest.ErrIdentity, ingest.ErrNotOwner}},
	{codes.AlreadyExists, []error{store.ErrExists, sched.ErrExists}},
	{codes.Aborted, []error{registry.ErrReplaced}},
	{codes.Unavailable, []error{registry.ErrSilent, registry.ErrClosed, store.ErrClosed, registry.ErrNotConnected, fleet.ErrStopped}},
}

// toStatus turns an error into a gRPC status: known errors keep their text
// (written for people); the collector running out of disk space, file size
// or memory for its store is logged and becomes ResourceExhausted with the
// reason in a few words (clients retry it later); other errors are logged
// and become a generic Internal error.
func toStatus(log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status: a stream's own error
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	for _, c := range codeOf {
		for _, e := range c.errs {
			if errors.Is(err, e) {
				return status.Error(c.code, err.Error())
			}
		}
	}
	if why, ok := store.Exhausted(err); ok {
		log.Error("collector storage exhausted", "method", method, "reason", why, "error", err)
		return status.Error(codes.ResourceExhausted, "collector storage exhausted ("+why+"); retry later")
	}
	log.Error("internal error", "method", method, "error", err)
	return status.Error(codes.Internal, "internal error (see the collector's log)")
}
