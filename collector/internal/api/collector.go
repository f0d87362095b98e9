package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fleetprof/fleetprof/collector/internal/analysis"
	"github.com/fleetprof/fleetprof/collector/internal/diff"
	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/ingest"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/report"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/capture/export"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// exportChunk bounds each Export message.
const exportChunk = 1 << 20

// CollectorConfig wires the CollectorService. Every field but Rules and
// Logger is required.
type CollectorConfig struct {
	// Store holds captures and reports.
	Store *store.DB
	// Registry knows the agents.
	Registry *registry.Registry
	// Fleet runs fleet captures.
	Fleet *fleet.Tracker
	// Analysis runs analyzers.
	Analysis *analysis.Analysis
	// Rules bucket ops into components for Diff. Nil means bucket.Default().
	Rules *bucket.Rules
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
}

// CollectorService serves people and tools.
type CollectorService struct {
	collectorv1.UnimplementedCollectorServiceServer
	cfg CollectorConfig
	log *slog.Logger
}

// NewCollectorService returns the CollectorService.
func NewCollectorService(cfg CollectorConfig) *CollectorService {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CollectorService{cfg: cfg, log: log.With("component", "api")}
}

// ListAgents implements collectorv1.CollectorServiceServer.
func (s *CollectorService) ListAgents(ctx context.Context, req *collectorv1.ListAgentsRequest) (*collectorv1.ListAgentsResponse, error) {
	resp, err := s.listAgents(ctx, req)
	return resp, toStatus(s.log, "ListAgents", err)
}

func (s *CollectorService) listAgents(ctx context.Context, req *collectorv1.ListAgentsRequest) (*collectorv1.ListAgentsResponse, error) {
	sel, err := selector.Parse(req.GetSelector())
	if err != nil {
		return nil, err
	}
	agents, err := s.cfg.Registry.List(ctx, sel, req.GetIncludeDisconnected())
	if err != nil {
		return nil, err
	}
	resp := &collectorv1.ListAgentsResponse{}
	for _, a := range agents {
		pa := &collectorv1.Agent{
			AgentId: a.ID, Host: a.Host, Labels: a.Labels, AgentVersion: a.AgentVersion,
			ServerVersion: a.ServerVersion, Backends: a.Backends, Connected: a.Connected,
			ServerHealthy: a.ServerHealthy, ServerRestarts: a.ServerRestarts, SpoolBytes: a.SpoolBytes,
			ActiveCapture: a.ActiveCapture,
		}
		if !a.LastSeen.IsZero() {
			pa.LastSeen = timestamppb.New(a.LastSeen)
		}
		resp.Agents = append(resp.Agents, pa)
	}
	return resp, nil
}

// StartCapture implements collectorv1.CollectorServiceServer.
func (s *CollectorService) StartCapture(ctx context.Context, req *collectorv1.StartCaptureRequest) (*collectorv1.StartCaptureResponse, error) {
	resp, err := s.cfg.Fleet.Start(ctx, req)
	return resp, toStatus(s.log, "StartCapture", err)
}

// WatchFleetCapture implements collectorv1.CollectorServiceServer.
func (s *CollectorService) WatchFleetCapture(req *collectorv1.WatchFleetCaptureRequest, stream collectorv1.CollectorService_WatchFleetCaptureServer) error {
	err := s.cfg.Fleet.Watch(stream.Context(), req.GetFleetId(), stream.Send)
	return toStatus(s.log, "WatchFleetCapture", err)
}

// ListCaptures implements collectorv1.CollectorServiceServer.
func (s *CollectorService) ListCaptures(ctx context.Context, req *collectorv1.ListCapturesRequest) (*collectorv1.ListCapturesResponse, error) {
	resp, err := s.listCaptures(ctx, req)
	return resp, toStatus(s.log, "ListCaptures", err)
}

func (s *CollectorService) listCaptures(ctx context.Context, req *collectorv1.ListCapturesRequest) (*collectorv1.ListCapturesResponse, error) {
	sel, err := selector.Parse(req.GetSelector())
	if err != nil {
		return nil, err
	}
	if req.GetLimit() < 0 {
		return nil, fmt.Errorf("%w: limit must not be negative", errBadRequest)
	}
	st := req.GetStatus()
	if st == "failed" {
		st = store.StatusAnalysisFailed
	}
	f := store.Filter{
		Selector: sel, Trigger: req.GetTrigger(), Status: st, AgentID: req.GetAgentId(),
		Limit: int(req.GetLimit()), PageToken: req.GetPageToken(),
	}
	if req.GetSince() != nil {
		f.Since = req.GetSince().AsTime()
	}
	if req.GetUntil() != nil {
		f.Until = req.GetUntil().AsTime()
	}
	resp := &collectorv1.ListCapturesResponse{}
	err = s.cfg.Store.View(ctx, func(r *store.Reader) error {
		list, next, err := r.List(f)
		if err != nil {
			return err
		}
		resp.NextPageToken = next
		for i := range list {
			resp.Captures = append(resp.Captures, CaptureProto(&list[i]))
		}
		return nil
	})
	return resp, err
}

// CaptureProto converts a stored capture record.
func CaptureProto(c *store.Capture) *collectorv1.Capture {
	return &collectorv1.Capture{
		CaptureId: c.ID, AgentId: c.AgentID, Host: c.Host, Labels: maps.Clone(c.Labels),
		Trigger: c.Trigger, FleetId: c.FleetID, ScheduleId: c.ScheduleID,
		CreatedAt: timestamppb.New(time.Unix(0, c.CreatedNS)), Status: c.Status,
		SummaryJson: c.Summary, SizeBytes: c.SizeBytes, BackupStatus: c.BackupStatus,
		Options: ingest.Options(c), Context: maps.Clone(c.Context),
	}
}

// GetCapture implements collectorv1.CollectorServiceServer.
func (s *CollectorService) GetCapture(ctx context.Context, req *collectorv1.GetCaptureRequest) (*collectorv1.GetCaptureResponse, error) {
	var resp *collectorv1.GetCaptureResponse
	err := s.cfg.Store.View(ctx, func(r *store.Reader) error {
		c, err := r.Capture(req.GetCaptureId())
		if err != nil {
			return err
		}
		resp = &collectorv1.GetCaptureResponse{Capture: CaptureProto(c)}
		return nil
	})
	return resp, toStatus(s.log, "GetCapture", err)
}

// GetReport implements collectorv1.CollectorServiceServer.
func (s *CollectorService) GetReport(ctx context.Context, req *collectorv1.GetReportRequest) (*collectorv1.GetReportResponse, error) {
	resp, err := s.getReport(ctx, req)
	return resp, toStatus(s.log, "GetReport", err)
}

func (s *CollectorService) getReport(ctx context.Context, req *collectorv1.GetReportRequest) (*collectorv1.GetReportResponse, error) {
	format := req.GetFormat()
	if format == "" {
		format = "md"
	}
	if !slices.Contains([]string{"md", "html", "json"}, format) {
		return nil, fmt.Errorf("%w: format %q: use md, html or json", errBadRequest, format)
	}
	r, err := analysis.Stored(ctx, s.cfg.Store, req.GetCaptureId())
	if err != nil {
		return nil, err
	}
	files, err := render(r, format)
	if err != nil {
		return nil, err
	}
	return &collectorv1.GetReportResponse{Files: files}, nil
}

// render renders a report in a format: md, html or json.
func render(r *report.Report, format string) ([]*collectorv1.File, error) {
	var files []report.File
	switch format {
	case "md":
		var err error
		if files, err = report.Markdown(r); err != nil {
			return nil, err
		}
	case "html":
		b, err := report.HTML(r)
		if err != nil {
			return nil, err
		}
		files = []report.File{{Name: report.HTMLName, Data: b}}
	case "json":
		b, err := report.JSON(r)
		if err != nil {
			return nil, err
		}
		files = []report.File{{Name: report.JSONName, Data: b}}
	}
	out := make([]*collectorv1.File, len(files))
	for i, f := range files {
		out[i] = &collectorv1.File{Name: f.Name, Data: f.Data}
	}
	return out, nil
}

// Export implements collectorv1.CollectorServiceServer.
func (s *CollectorService) Export(req *collectorv1.ExportRequest, stream collectorv1.CollectorService_ExportServer) error {
	return toStatus(s.log, "Export", s.export(req, stream))
}

func (s *CollectorService) export(req *collectorv1.ExportRequest, stream collectorv1.CollectorService_ExportServer) error {
	ctx := stream.Context()
	format := export.Format(req.GetFormat())
	if format == "" {
		format = export.TraceJSONGz
	}
	switch format {
	case export.Fpcap, export.TraceJSON, export.TraceJSONGz, export.XPlane:
	default:
		return fmt.Errorf("%w (format %q: use trace.json.gz, trace.json, xplane.pb or fpcap)", export.ErrUnknownFormat, format)
	}
	var buf bytes.Buffer
	if format == export.Fpcap {
		// The stored bytes as they are: copied out first, so no transaction
		// stays open while a slow client reads.
		err := s.cfg.Store.View(ctx, func(r *store.Reader) error {
			_, err := r.WriteBlob(req.GetCaptureId(), &buf)
			return err
		})
		if err != nil {
			return err
		}
		return sendChunks(stream, &buf)
	}
	c, _, err := analysis.Load(ctx, s.cfg.Store, req.GetCaptureId())
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owned: ends when the pipe's reader closes
		err := export.Write(pw, format, c)
		pw.CloseWithError(err)
		done <- err
	}()
	sendErr := sendChunks(stream, pr)
	pr.CloseWithError(fmt.Errorf("export ended: %w", io.ErrClosedPipe))
	writeErr := <-done
	if sendErr != nil {
		return sendErr
	}
	return writeErr
}

// sendChunks streams r in bounded messages, a fresh buffer for each.
func sendChunks(stream collectorv1.CollectorService_ExportServer, r io.Reader) error {
	for {
		buf := make([]byte, exportChunk)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if err := stream.Send(&collectorv1.ExportResponse{Data: buf[:n]}); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Analyze implements collectorv1.CollectorServiceServer.
func (s *CollectorService) Analyze(ctx context.Context, req *collectorv1.AnalyzeRequest) (*collectorv1.AnalyzeResponse, error) {
	resp, err := s.analyze(ctx, req)
	return resp, toStatus(s.log, "Analyze", err)
}

func (s *CollectorService) analyze(ctx context.Context, req *collectorv1.AnalyzeRequest) (*collectorv1.AnalyzeResponse, error) {
	r, err := s.cfg.Analysis.Analyze(ctx, req.GetCaptureId(), req.GetAnalyzers(), req.GetOptions(), req.GetStore())
	if err != nil {
		return nil, err
	}
	b, err := report.JSON(r)
	if err != nil {
		return nil, err
	}
	return &collectorv1.AnalyzeResponse{ReportJson: b}, nil
}

// Diff implements collectorv1.CollectorServiceServer.
func (s *CollectorService) Diff(ctx context.Context, req *collectorv1.DiffRequest) (*collectorv1.DiffResponse, error) {
	resp, err := s.diff(ctx, req)
	return resp, toStatus(s.log, "Diff", err)
}

func (s *CollectorService) diff(ctx context.Context, req *collectorv1.DiffRequest) (*collectorv1.DiffResponse, error) {
	a, _, err := analysis.Load(ctx, s.cfg.Store, req.GetA())
	if err != nil {
		return nil, err
	}
	b, _, err := analysis.Load(ctx, s.cfg.Store, req.GetB())
	if err != nil {
		return nil, err
	}
	d := diff.Compare(a, b, s.cfg.Rules)
	return &collectorv1.DiffResponse{
		Ops: rows(d.Ops), Components: rows(d.Components), OpTypes: rows(d.OpTypes), Summary: rows(d.Summary),
	}, nil
}

func rows(in []diff.Row) []*collectorv1.DiffRow {
	out := make([]*collectorv1.DiffRow, len(in))
	for i, r := range in {
		out[i] = &collectorv1.DiffRow{Key: r.Key, Label: r.Label, A: r.A, B: r.B, Delta: r.Delta, DeltaPct: r.DeltaPct}
	}
	return out
}
