package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
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
		{ingest.ErrTooLarge, codes.InvalidArgument},
		{ingest.ErrEmptyChunks, codes.InvalidArgument},
		{fmt.Errorf("%w: f-1.victim", ingest.ErrNotOwner), codes.PermissionDenied},
		{ingest.ErrBusy, codes.ResourceExhausted},
		{ingest.ErrAgentBusy, codes.ResourceExhausted},
		{ingest.ErrNoStart, codes.DeadlineExceeded},
		{ingest.ErrIdle, codes.DeadlineExceeded},
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

// TestToStatusExhausted is issue 13's finding 11: the collector running out
// of disk space, file size or memory for its store reaches the client as
// ResourceExhausted with the reason (never a path), and the whole error is
// logged for the operator.
func TestToStatusExhausted(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("stage chunk 3 of c: write /secret/fleetprof.db: %w", syscall.ENOSPC), "no space left on device"},
		{fmt.Errorf("commit c: %w", &os.PathError{Op: "write", Path: "/secret/fleetprof.db", Err: syscall.EFBIG}), "file too large"},
		{fmt.Errorf("stage upload c: %w", syscall.EDQUOT), "disk quota exceeded"},
		// bbolt formats these with %s: only their text is left.
		{errors.New("stage chunk 1 of c: file resize error: file too large"), "file too large"},
		{errors.New("register agent: mmap allocate error: cannot allocate memory"), "out of memory"},
		{errors.New("commit: mmap allocate error: invalid argument"), "cannot map"},
	} {
		var logged bytes.Buffer
		got := toStatus(slog.New(slog.NewTextHandler(&logged, nil)), "Upload", tt.err)
		st := status.Convert(got)
		if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), tt.want) {
			t.Errorf("toStatus(%v) = %v %q, want ResourceExhausted naming %q", tt.err, st.Code(), st.Message(), tt.want)
		}
		if strings.Contains(st.Message(), "secret") {
			t.Errorf("toStatus(%v) leaks a path: %q", tt.err, st.Message())
		}
		if !strings.Contains(logged.String(), "collector storage exhausted") || !strings.Contains(logged.String(), tt.err.Error()[:10]) {
			t.Errorf("toStatus(%v) logged %q, want the whole error", tt.err, logged.String())
		}
	}
}
