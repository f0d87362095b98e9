package simserver

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tensorflowpb "github.com/fleetprof/fleetprof/proto/tensorflow"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// maxProfileDuration bounds one profiler service session.
const maxProfileDuration = 10 * time.Minute

// invalidProfile is a profile request that cannot be served; its text goes
// back to the client.
type invalidProfile string

func (b invalidProfile) Error() string { return "simserver: bad profile request: " + string(b) }

// profilerService is the JAX profiler's gRPC service
// (tensorflow.ProfilerService), sharing the server's one profiler session
// with /start_profile. Monitor answers UNIMPLEMENTED.
type profilerService struct {
	tensorflowpb.UnimplementedProfilerServiceServer
	s *Server
}

// Profile traces for opts.duration_ms (the request's own duration_ms is
// ignored, as the real server does) while serving requests. The tracer
// levels are honoured only when opts.version is not zero; else they are
// the defaults (host 2, device 1, python 0). With emit_xspace the XSpace
// comes back inline; otherwise it is written to
// <repository_root>/<session_id>/<host_name>.xplane.pb and no trace JSON
// is made.
func (p *profilerService) Profile(ctx context.Context, req *tensorflowpb.ProfileRequest) (*tensorflowpb.ProfileResponse, error) {
	s := p.s
	opts := req.GetOpts()
	lv := defaultLevels
	if opts.GetVersion() != 0 {
		lv = levels{
			host:   int(opts.GetHostTracerLevel()),
			device: int(opts.GetDeviceTracerLevel()),
			python: int(opts.GetPythonTracerLevel()),
		}
	}
	d := time.Duration(opts.GetDurationMs()) * time.Millisecond
	if d > maxProfileDuration {
		return nil, p.toStatus(invalidProfile("opts.duration_ms is over 10 minutes"))
	}
	host := req.GetHostName()
	if host == "" {
		host = s.cfg.Hostname
	}
	id := req.GetSessionId()
	if id == "" {
		id = time.Now().Local().Format(RunFolderLayout)
	}
	resp := &tensorflowpb.ProfileResponse{}
	var path string
	if !req.GetEmitXspace() {
		if req.GetRepositoryRoot() == "" {
			return nil, p.toStatus(invalidProfile("repository_root is empty: set it, or ask for emit_xspace"))
		}
		if strings.ContainsAny(id, `/\`) || id == ".." {
			return nil, p.toStatus(invalidProfile("session_id must be one path element"))
		}
		path = filepath.Join(req.GetRepositoryRoot(), id, FileHost(host)+".xplane.pb")
	}
	err := s.runGRPC(ctx, id, host, lv, d, func(c *capture.Capture, prof *Profile) error {
		resp.EmptyTrace = prof.EventsTotal == 0
		if req.GetEmitXspace() {
			space, err := toXSpace(c)
			if err != nil {
				return err
			}
			resp.Xspace = space
			return nil
		}
		prof.Files = []string{path}
		return writeXPlaneFile(path, c)
	})
	if err != nil {
		return nil, p.toStatus(err)
	}
	s.log.Info("profiler service session done", "session_id", id, "emit_xspace", req.GetEmitXspace(),
		"path", path, "empty_trace", resp.EmptyTrace)
	return resp, nil
}

// Terminate ends a running profiler service session early.
func (p *profilerService) Terminate(ctx context.Context, req *tensorflowpb.TerminateRequest) (*tensorflowpb.TerminateResponse, error) {
	p.s.terminate(req.GetSessionId())
	return &tensorflowpb.TerminateResponse{}, nil
}

// toStatus turns an error into a gRPC status: the one boundary.
func (p *profilerService) toStatus(err error) error {
	var bad invalidProfile
	switch {
	case errors.Is(err, ErrBusy):
		return status.Error(codes.FailedPrecondition, "another profiling session is active")
	case errors.As(err, &bad):
		return status.Error(codes.InvalidArgument, string(bad))
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the profile was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the profile's deadline passed")
	}
	p.s.log.Error("profiler service", "err", err)
	return status.Error(codes.Internal, "profiling failed")
}
