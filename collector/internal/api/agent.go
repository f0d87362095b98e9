package api

import (
	"log/slog"

	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// AgentService serves agents: their control streams go to the registry,
// their uploads to ingest.
type AgentService struct {
	agentv1.UnimplementedAgentServiceServer
	reg *registry.Registry
	in  *ingest.Ingest
	log *slog.Logger
}

// NewAgentService returns the AgentService. A nil logger discards.
func NewAgentService(reg *registry.Registry, in *ingest.Ingest, log *slog.Logger) *AgentService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AgentService{reg: reg, in: in, log: log.With("component", "api")}
}

// Control implements agentv1.AgentServiceServer.
func (s *AgentService) Control(stream agentv1.AgentService_ControlServer) error {
	return toStatus(s.log, "Control", s.reg.Serve(stream))
}

// Upload implements agentv1.AgentServiceServer.
func (s *AgentService) Upload(stream agentv1.AgentService_UploadServer) error {
	return toStatus(s.log, "Upload", s.in.Serve(stream))
}
