package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/store"
)

func TestToStatus(t *testing.T) {
	tests := []struct {
		err  error
		code codes.Code
	}{
		{nil, codes.OK},
		{fmt.Errorf("capture %q: %w", "x", store.ErrNotFound), codes.NotFound},
		{fmt.Errorf("%w: %q", ingest.ErrBadID, "a/b"), codes.InvalidArgument},
		{ingest.ErrChecksum, codes.DataLoss},
		{ingest.ErrTooLarge, codes.ResourceExhausted},
		{ingest.ErrSequence, codes.FailedPrecondition},
		{fleet.ErrNoAgents, codes.FailedPrecondition},
		{analysis.ErrNoReport, codes.FailedPrecondition},
		{registry.ErrIdentity, codes.PermissionDenied},
		{registry.ErrReplaced, codes.Aborted},
		{registry.ErrSilent, codes.Unavailable},
		{fmt.Errorf("wrap: %w", context.Canceled), codes.Canceled},
		{status.Error(codes.Unavailable, "transport closing"), codes.Unavailable},
		{errors.New("open /secret/path: permission denied"), codes.Internal},
	}
	for _, tt := range tests {
		var logged bytes.Buffer
		got := toStatus(slog.New(slog.NewTextHandler(&logged, nil)), "Test", tt.err)
		if c := status.Code(got); c != tt.code {
			t.Errorf("toStatus(%v) code = %v, want %v", tt.err, c, tt.code)
		}
		if tt.code == codes.Internal {
			if strings.Contains(got.Error(), "secret") {
				t.Errorf("toStatus leaks internal detail: %v", got)
			}
			if !strings.Contains(logged.String(), "secret") {
				t.Errorf("internal error not logged: %q", logged.String())
			}
		}
	}
}
