package api

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/auth"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// AdminService manages API tokens. The server's interceptor lets only
// admins in.
type AdminService struct {
	collectorv1.UnimplementedAdminServiceServer
	db  *store.DB
	log *slog.Logger
}

// NewAdminService returns the AdminService. A nil logger discards.
func NewAdminService(db *store.DB, log *slog.Logger) *AdminService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AdminService{db: db, log: log.With("component", "api")}
}

// CreateToken implements collectorv1.AdminServiceServer.
func (s *AdminService) CreateToken(ctx context.Context, req *collectorv1.CreateTokenRequest) (*collectorv1.CreateTokenResponse, error) {
	role := auth.Role(req.GetRole())
	if role <= auth.None || role > auth.Admin {
		return nil, toStatus(s.log, "CreateToken", fmt.Errorf("%w: %v", auth.ErrBadRole, req.GetRole()))
	}
	c, err := auth.Create(ctx, s.db, req.GetName(), role)
	if err != nil {
		return nil, toStatus(s.log, "CreateToken", err)
	}
	s.log.Info("token created", "token_id", c.Record.ID, "name", c.Record.Name, "role", c.Record.Role)
	return &collectorv1.CreateTokenResponse{Token: c.Token, Info: tokenInfo(&c.Record)}, nil
}

// ListTokens implements collectorv1.AdminServiceServer.
func (s *AdminService) ListTokens(ctx context.Context, _ *collectorv1.ListTokensRequest) (*collectorv1.ListTokensResponse, error) {
	ts, err := auth.List(ctx, s.db)
	if err != nil {
		return nil, toStatus(s.log, "ListTokens", err)
	}
	resp := &collectorv1.ListTokensResponse{}
	for i := range ts {
		resp.Tokens = append(resp.Tokens, tokenInfo(&ts[i]))
	}
	return resp, nil
}

// RevokeToken implements collectorv1.AdminServiceServer.
func (s *AdminService) RevokeToken(ctx context.Context, req *collectorv1.RevokeTokenRequest) (*collectorv1.RevokeTokenResponse, error) {
	t, err := auth.Revoke(ctx, s.db, req.GetTokenId())
	if err != nil {
		return nil, toStatus(s.log, "RevokeToken", err)
	}
	s.log.Info("token revoked", "token_id", t.ID, "name", t.Name, "role", t.Role)
	return &collectorv1.RevokeTokenResponse{Info: tokenInfo(t)}, nil
}

// tokenInfo describes a token record.
func tokenInfo(t *store.Token) *collectorv1.TokenInfo {
	role, _ := auth.ParseRole(t.Role)
	return &collectorv1.TokenInfo{
		TokenId: t.ID, Name: t.Name, Role: collectorv1.Role(role), CreatedAt: timestamppb.New(time.Unix(0, t.CreatedNS)),
	}
}
