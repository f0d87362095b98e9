// Package ingest receives captures from agents: the Upload stream stages
// chunks durably (group commits), tells a restarted upload where to resume,
// and parses the .fpcap under size limits as it is staged; at UploadEnd it
// checks the size and SHA-256 and commits the capture, its index entries,
// its summary and its tally in one transaction. Each capture id is bound to one agent (the one it was
// commanded to, or the first to stage it); streams are bounded in number
// (per agent and in all) and in time (a first-message and an idle deadline).
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// Errors.
var (
	// ErrProtocol means the agent sent messages out of order (no UploadStart
	// first, a second UploadStart, an empty message).
	ErrProtocol = errors.New("ingest: upload messages out of order: send UploadStart, chunks, UploadEnd")
	// ErrBadID means the capture id is not 1-128 characters of
	// [A-Za-z0-9._-] or holds "..".
	ErrBadID = errors.New("ingest: bad capture id: use 1-128 characters of A-Z a-z 0-9 . _ - with no \"..\"")
	// ErrBadStart means UploadStart lacks a valid agent id (ids.ValidAgent),
	// a positive size or a 32-byte SHA-256.
	ErrBadStart = errors.New("ingest: bad UploadStart: set agent_id, bytes > 0 and a 32-byte sha256")
	// ErrIdentity means the agent uploads for another agent.
	ErrIdentity = errors.New("ingest: agent_id does not match the agent's identity")
	// ErrTooLarge means a capture is larger than the collector accepts.
	ErrTooLarge = errors.New("ingest: capture too large")
	// ErrChunkTooLarge means a chunk holds more than 1 MiB.
	ErrChunkTooLarge = errors.New("ingest: chunk too large (at most 1 MiB)")
	// ErrSequence means a chunk skips ahead or starts at the wrong offset:
	// restart the upload and resume from the next_seq the collector answers.
	ErrSequence = errors.New("ingest: chunk out of sequence: restart the upload and resume from next_seq")
	// ErrSize means UploadEnd came before every announced byte (or chunk) arrived.
	ErrSize = errors.New("ingest: upload ended short of its announced size")
	// ErrChecksum means the bytes received do not have the announced
	// SHA-256; the staged bytes are dropped and the upload must start over.
	ErrChecksum = errors.New("ingest: sha256 mismatch: the staged upload was dropped; upload again from the start")
	// ErrMalformed means the bytes are not a readable .fpcap.
	ErrMalformed = errors.New("ingest: capture does not parse as .fpcap")
	// ErrBusy means the collector already serves as many uploads as it
	// allows; the agent retries with backoff.
	ErrBusy = errors.New("ingest: too many uploads at once; retry later")
	// ErrAgentBusy means this agent already has as many upload streams
	// open as one agent may; the agent retries with backoff.
	ErrAgentBusy = errors.New("ingest: too many uploads from this agent at once; retry later")
	// ErrNotOwner means the capture id is bound to another agent: it was
	// commanded to another agent, or another agent staged or committed it.
	ErrNotOwner = errors.New("ingest: capture belongs to another agent: upload only the captures commanded to or started by this agent")
	// ErrNoStart means no UploadStart came within the first-message deadline.
	ErrNoStart = errors.New("ingest: no UploadStart within the first-message deadline")
	// ErrIdle means an upload stream sent nothing for the idle deadline;
	// what was staged stays, and the agent resumes on a new stream.
	ErrIdle = errors.New("ingest: upload stream idle past the deadline; resume on a new stream")
	// ErrEmptyChunks means a stream sent more empty chunks than allowed.
	ErrEmptyChunks = errors.New("ingest: too many empty chunks on one upload stream")
)

// Defaults for Config.
const (
	// DefaultMaxCaptureBytes bounds one capture.
	DefaultMaxCaptureBytes = 256 << 20
	// DefaultMaxUploads bounds the upload streams served at once.
	DefaultMaxUploads = 256
	// DefaultMaxUploadsPerAgent bounds the upload streams one agent holds
	// at once (an agent uploads one capture at a time).
	DefaultMaxUploadsPerAgent = 4
	// DefaultStartTimeout bounds the wait for a stream's UploadStart.
	DefaultStartTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds the silence between an upload's messages.
	DefaultIdleTimeout = time.Minute
	// MaxChunkBytes bounds one chunk's data.
	MaxChunkBytes = 1 << 20
	// MaxEmptyChunks bounds the empty chunks one stream may send: each is
	// acknowledged without being staged; one more ends the stream.
	MaxEmptyChunks = 4
)

// Config configures an Ingest. Store is required; the rest may be zero.
type Config struct {
	// Store stages and commits.
	Store *store.DB
	// MaxCaptureBytes bounds one capture's .fpcap. Zero means
	// DefaultMaxCaptureBytes.
	MaxCaptureBytes int64
	// MaxUploads bounds the upload streams served at once; more are
	// refused with ErrBusy. Zero means DefaultMaxUploads.
	MaxUploads int
	// MaxUploadsPerAgent bounds the upload streams one agent identity
	// (its certificate's agent id; without mTLS, the agent id it sends)
	// holds at once; more are refused with ErrAgentBusy. Zero means
	// DefaultMaxUploadsPerAgent.
	MaxUploadsPerAgent int
	// StartTimeout ends a stream whose UploadStart does not come within it
	// (ErrNoStart). Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// IdleTimeout ends a stream that sends nothing for this long after its
	// UploadStart (ErrIdle); what it staged stays. Zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// UploadRate bounds each agent's upload bytes per second (a token
	// bucket holding 8 MiB). Zero means no limit.
	UploadRate float64
	// Limits bound what a capture may cost to decode, checked as its bytes
	// stream in; past them the upload is refused (ErrTooLarge, naming the
	// bound) and its staged chunks are dropped. The zero value means
	// fpcap's defaults.
	Limits fpcap.Limits
	// Identity returns the authenticated agent id of a stream's context, or
	// "" when agents are not authenticated. Nil means "".
	Identity func(ctx context.Context) string
	// StaleAfter is how long a staged upload may sit without a new chunk
	// before Run drops it. Zero means 7 days.
	StaleAfter time.Duration
	// OnCommit is called after each capture commits (not for repeated
	// uploads of a committed one). It must not block. Nil means none.
	OnCommit func(c *store.Capture)
	// Logger receives the log. Nil discards it.
	Logger *slog.Logger
	// Registerer receives the metrics. Nil registers none.
	Registerer prometheus.Registerer
}

// Ingest serves Upload streams.
type Ingest struct {
	cfg     Config
	log     *slog.Logger
	slots   *slots
	rates   *rates
	readers sync.WaitGroup // the streams' receiving goroutines
	quiet   *quiet

	bytesIn   prometheus.Counter
	committed prometheus.Counter
	rejected  *prometheus.CounterVec
	latency   prometheus.Histogram
	streams   prometheus.GaugeFunc
}

// New returns an Ingest.
func New(cfg Config) *Ingest {
	factory := promauto.With(cfg.Registerer) // a nil Registerer registers nothing
	if cfg.MaxCaptureBytes <= 0 {
		cfg.MaxCaptureBytes = DefaultMaxCaptureBytes
	}
	if cfg.Identity == nil {
		cfg.Identity = func(context.Context) string { return "" }
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 7 * 24 * time.Hour
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	if cfg.MaxUploadsPerAgent <= 0 {
		cfg.MaxUploadsPerAgent = DefaultMaxUploadsPerAgent
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Ingest{
		cfg:   cfg,
		log:   log.With("component", "ingest"),
		slots: newSlots(cfg.MaxUploads, cfg.MaxUploadsPerAgent),
		rates: newRates(cfg.UploadRate, max(8<<20, 2*MaxChunkBytes)),
		quiet: newQuiet(time.Second),
		bytesIn: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_ingest_bytes_total", Help: "Capture bytes staged from agents.",
		}),
		committed: factory.NewCounter(prometheus.CounterOpts{
			Name: "fleetprof_collector_ingest_captures_total", Help: "Captures committed.",
		}),
		rejected: factory.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetprof_collector_ingest_rejected_total", Help: "Uploads refused, by reason.",
		}, []string{"reason"}),
		latency: factory.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetprof_collector_ingest_commit_seconds",
			Help:    "Time from an upload's last chunk to its capture committed (check, parse, commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	in.streams = factory.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fleetprof_collector_ingest_streams", Help: "Upload streams served now.",
	}, func() float64 { return float64(in.slots.open()) })
	return in
}

// UploadStream is the server side of an upload stream.
type UploadStream = grpc.BidiStreamingServer[agentv1.UploadRequest, agentv1.UploadResponse]

// Serve runs one upload stream. A stream that breaks leaves its staged
// chunks for the next attempt. Refusals are counted by reason and logged
// (at most one line per reason a second; a PermissionDenied is logged by
// the server's guard, and errors that are not refusals by the API).
func (in *Ingest) Serve(stream UploadStream) error {
	err := in.serveLimited(stream)
	if err != nil {
		why := reason(err)
		in.rejected.WithLabelValues(why).Inc()
		switch why {
		case "other", "not_owner", "storage":
		default:
			if n, ok := in.quiet.allow(why); ok {
				in.log.Warn("upload refused", "reason", why, "error", err, "suppressed", n)
			}
		}
	}
	return err
}

// serveLimited takes the stream's slots (its agent's, then a global one)
// and serves it.
func (in *Ingest) serveLimited(stream UploadStream) error {
	agent := in.cfg.Identity(stream.Context())
	if agent != "" {
		if err := in.slots.takeAgent(agent); err != nil {
			return err
		}
		defer in.slots.giveAgent(agent)
	}
	if err := in.slots.take(); err != nil {
		return err
	}
	defer in.slots.give()
	r := in.receive(stream)
	defer r.close()
	return in.serve(stream, r, agent == "")
}

func reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrProtocol, "protocol"}, {ErrBadID, "bad_id"}, {ErrBadStart, "bad_start"}, {ErrIdentity, "identity"},
		{ErrTooLarge, "too_large"}, {ErrChunkTooLarge, "chunk_too_large"}, {ErrSequence, "sequence"},
		{ErrSize, "size"}, {ErrChecksum, "checksum"}, {ErrMalformed, "malformed"}, {ErrBusy, "busy"},
		{ErrAgentBusy, "agent_busy"}, {ErrNotOwner, "not_owner"}, {ErrNoStart, "no_start"}, {ErrIdle, "idle"},
		{ErrEmptyChunks, "empty_chunks"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	if _, ok := store.Exhausted(err); ok {
		return "storage"
	}
	return "other"
}

// serve runs the upload protocol on a stream whose messages r reads.
// Without an authenticated identity (loopback development mode), the
// agent's slot is taken by the agent id in UploadStart.
func (in *Ingest) serve(stream UploadStream, r *receiver, slotByStart bool) error {
	ctx := stream.Context()
	first, err := r.next(ctx, in.cfg.StartTimeout, fmt.Errorf("%w (%s)", ErrNoStart, in.cfg.StartTimeout))
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return fmt.Errorf("%w: first message is not UploadStart", ErrProtocol)
	}
	id := start.GetCaptureId()
	switch {
	case !store.ValidID(id):
		return fmt.Errorf("%w: %q", ErrBadID, id)
	case start.GetBytes() <= 0 || len(start.GetSha256()) != sha256.Size:
		return fmt.Errorf("%w (capture %s)", ErrBadStart, id)
	case !ids.ValidAgent(start.GetAgentId()):
		return fmt.Errorf("%w (capture %s): %w", ErrBadStart, id, ids.CheckAgent(start.GetAgentId()))
	case start.GetBytes() > in.cfg.MaxCaptureBytes:
		return fmt.Errorf("%w: %s announces %d bytes, the limit is %d", ErrTooLarge, id, start.GetBytes(), in.cfg.MaxCaptureBytes)
	}
	if ident := in.cfg.Identity(ctx); ident != "" && ident != start.GetAgentId() {
		return fmt.Errorf("%w: %q uploads as %q", ErrIdentity, ident, start.GetAgentId())
	}
	if slotByStart {
		if err := in.slots.takeAgent(start.GetAgentId()); err != nil {
			return err
		}
		defer in.slots.giveAgent(start.GetAgentId())
	}
	log := in.log.With("capture_id", id, "agent_id", start.GetAgentId())

	var u *store.Upload
	var already bool
	err = in.cfg.Store.Group(ctx, func(w *store.Writer) error {
		if err := checkOwner(&w.Reader, id, start.GetAgentId()); err != nil {
			return err
		}
		if already = w.Committed(id); already {
			return nil
		}
		var err error
		u, err = w.BeginUpload(&store.Upload{
			CaptureID: id, AgentID: start.GetAgentId(), Chunks: start.GetChunks(),
			Bytes: start.GetBytes(), SHA256: start.GetSha256(), StartedNS: time.Now().UnixNano(),
		})
		return err
	})
	if errors.Is(err, ErrNotOwner) {
		return err
	}
	if err != nil {
		return fmt.Errorf("stage upload %s: %w", id, err)
	}
	if already {
		log.Debug("upload of a committed capture")
		return stream.Send(&agentv1.UploadResponse{NextSeq: start.GetChunks(), Committed: true})
	}
	if u.NextSeq > 0 {
		log.Info("upload resumed", "next_seq", u.NextSeq, "bytes_staged", u.NextOffset)
	}
	p, err := in.startParse(ctx, u)
	if err != nil {
		return err
	}
	if err := stream.Send(&agentv1.UploadResponse{NextSeq: u.NextSeq}); err != nil {
		return err
	}
	idle := fmt.Errorf("%w (%s without a message on %s)", ErrIdle, in.cfg.IdleTimeout, id)
	empty := 0
	for {
		m, err := r.next(ctx, in.cfg.IdleTimeout, idle)
		if err == io.EOF {
			return nil // the agent gave up; what is staged stays
		}
		if err != nil {
			return err
		}
		switch msg := m.GetMsg().(type) {
		case *agentv1.UploadRequest_Chunk:
			c := msg.Chunk
			if len(c.GetData()) == 0 {
				// Nothing to stage: acknowledged as it stands, never written.
				if empty++; empty > MaxEmptyChunks {
					return fmt.Errorf("%w: %d on %s (at most %d)", ErrEmptyChunks, empty, id, MaxEmptyChunks)
				}
				if err := stream.Send(&agentv1.UploadResponse{NextSeq: u.NextSeq}); err != nil {
					return err
				}
				continue
			}
			if c.GetSeq() < u.NextSeq {
				continue // already staged: a resend after a resume
			}
			if len(c.GetData()) > MaxChunkBytes {
				return fmt.Errorf("%w: chunk %d of %s has %d bytes", ErrChunkTooLarge, c.GetSeq(), id, len(c.GetData()))
			}
			if c.GetOffset()+int64(len(c.GetData())) > u.Bytes {
				return fmt.Errorf("%w: chunk %d of %s ends at byte %d, past the announced %d", ErrTooLarge, c.GetSeq(), id, c.GetOffset()+int64(len(c.GetData())), u.Bytes)
			}
			if c.GetSeq() != u.NextSeq || c.GetOffset() != u.NextOffset {
				return fmt.Errorf("%w: %s got chunk %d at byte %d, want chunk %d at byte %d", ErrSequence, id, c.GetSeq(), c.GetOffset(), u.NextSeq, u.NextOffset)
			}
			if err := in.rates.wait(ctx, u.AgentID, len(c.GetData())); err != nil {
				return err
			}
			var nu *store.Upload
			err := in.cfg.Store.Group(ctx, func(w *store.Writer) error {
				var err error
				nu, err = w.StageChunk(id, c.GetSeq(), c.GetOffset(), c.GetData())
				return err
			})
			if errors.Is(err, store.ErrSequence) {
				return fmt.Errorf("%w: %v", ErrSequence, err)
			}
			if err != nil {
				return fmt.Errorf("stage chunk %d of %s: %w", c.GetSeq(), id, err)
			}
			u = nu
			p.feed(c.GetData())
			in.bytesIn.Add(float64(len(c.GetData())))
			if lerr := p.overLimit(); lerr != nil {
				// Refused for good, before the rest arrives; dropped, so a
				// resume cannot repeat it.
				in.drop(ctx, id)
				return tooCostly(id, lerr)
			}
			if err := stream.Send(&agentv1.UploadResponse{NextSeq: u.NextSeq}); err != nil {
				return err
			}
		case *agentv1.UploadRequest_End:
			t0 := time.Now()
			if u.NextOffset != u.Bytes || (msg.End.GetChunks() != 0 && msg.End.GetChunks() != u.NextSeq) {
				return fmt.Errorf("%w: %s has %d bytes in %d chunks staged, announced %d bytes, end says %d chunks", ErrSize, id, u.NextOffset, u.NextSeq, u.Bytes, msg.End.GetChunks())
			}
			rec, err := in.commit(ctx, u, p.finish())
			if err != nil {
				return err
			}
			in.latency.Observe(time.Since(t0).Seconds())
			if rec != nil {
				in.committed.Inc()
				log.Info("capture committed", "bytes", rec.SizeBytes, "chunks", rec.Chunks, "took", time.Since(t0).Round(time.Microsecond))
				if in.cfg.OnCommit != nil {
					in.cfg.OnCommit(rec)
				}
			}
			return stream.Send(&agentv1.UploadResponse{NextSeq: u.NextSeq, Committed: true})
		case *agentv1.UploadRequest_Start:
			return fmt.Errorf("%w: second UploadStart on one stream", ErrProtocol)
		default:
			return fmt.Errorf("%w: empty message", ErrProtocol)
		}
	}
}

// tooCostly is the refusal of a capture past the decoding limits.
func tooCostly(id string, err error) error {
	return fmt.Errorf("%w: %s costs too much to decode: %w; it was dropped: take a shorter capture or trim it with a larger gap (docs/security.md, capture limits)", ErrTooLarge, id, err)
}

// drop drops an upload's staged chunks.
func (in *Ingest) drop(ctx context.Context, id string) {
	if err := in.cfg.Store.Group(context.WithoutCancel(ctx), func(w *store.Writer) error { return w.DropUpload(id) }); err != nil {
		in.log.Warn("drop rejected upload", "capture_id", id, "error", err)
	}
}

// commit checks a fully staged and parsed upload and commits it. It
// returns nil and no error when another stream committed it first.
func (in *Ingest) commit(ctx context.Context, u *store.Upload, res parsed) (*store.Capture, error) {
	var checkErr error
	var summary, tally []byte
	switch {
	case !bytes.Equal(res.sum, u.SHA256):
		checkErr = fmt.Errorf("%w (capture %s)", ErrChecksum, u.CaptureID)
	case errors.Is(res.err, fpcap.ErrLimit):
		checkErr = tooCostly(u.CaptureID, res.err)
	case res.err != nil:
		checkErr = fmt.Errorf("%w: %s: %w", ErrMalformed, u.CaptureID, res.err)
	default:
		s := capture.Summarize(res.capture)
		s.EventsKept = res.tally.Events // the parse counted the events without keeping them
		var err error
		if summary, err = json.Marshal(s); err != nil {
			return nil, fmt.Errorf("encode summary: %w", err)
		}
		if tally, err = json.Marshal(res.tally); err != nil {
			return nil, fmt.Errorf("encode tally: %w", err)
		}
	}
	if checkErr != nil {
		// Drop what was staged: resuming would only repeat the failure.
		in.drop(ctx, u.CaptureID)
		return nil, checkErr
	}
	rec := &store.Capture{
		ID: u.CaptureID, AgentID: u.AgentID, Trigger: "manual", Status: store.StatusCommitted,
		Summary: summary, Tally: tally, SizeBytes: u.Bytes, SHA256: u.SHA256, Context: res.capture.Context,
	}
	var lost bool
	err := in.cfg.Store.Group(ctx, func(w *store.Writer) error {
		if err := checkOwner(&w.Reader, u.CaptureID, u.AgentID); err != nil {
			return err
		}
		if lost = w.Committed(u.CaptureID); lost {
			return nil
		}
		r := *rec
		r.Labels = map[string]string{}
		if a, err := w.Agent(u.AgentID); err == nil {
			r.Host = a.Host
			maps.Copy(r.Labels, a.Labels)
		}
		if r.Host == "" {
			r.Host = r.Context["host"]
		}
		if cmd, err := w.Command(u.CaptureID); err == nil {
			r.Trigger, r.FleetID, r.ScheduleID, r.Options = cmd.Trigger, cmd.FleetID, cmd.ScheduleID, cmd.Options
			maps.Copy(r.Labels, cmd.Labels)
		}
		r.CreatedNS = time.Now().UnixNano()
		if err := w.Commit(&r); err != nil {
			return err
		}
		*rec = r
		return nil
	})
	if errors.Is(err, ErrNotOwner) {
		// Commanded to another agent after this one staged it: drop it.
		if derr := in.cfg.Store.Group(ctx, func(w *store.Writer) error { return w.DropUpload(u.CaptureID) }); derr != nil {
			in.log.Warn("drop refused upload", "capture_id", u.CaptureID, "error", derr)
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", u.CaptureID, err)
	}
	if lost {
		return nil, nil
	}
	return rec, nil
}

// Options decodes a record's capture options.
func Options(c *store.Capture) *agentv1.CaptureOptions {
	o := &agentv1.CaptureOptions{}
	if len(c.Options) > 0 {
		_ = proto.Unmarshal(c.Options, o)
	}
	return o
}

// Run drops stale uploads (see Config.StaleAfter) every hour until ctx
// ends; then it waits for the streams' receiving goroutines, which end with
// their streams (the gRPC server's stop).
func (in *Ingest) Run(ctx context.Context) error {
	defer in.readers.Wait()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := in.Sweep(ctx, time.Now().Add(-in.cfg.StaleAfter)); err != nil && ctx.Err() == nil {
			in.log.Warn("drop stale uploads", "error", err)
		} else if n > 0 {
			in.log.Info("dropped stale uploads", "uploads", n)
		}
		in.rates.forgetIdle()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep drops the staged uploads that saw no chunk since before, and the
// capture commands made before then whose capture never came, and returns
// how many uploads it dropped.
func (in *Ingest) Sweep(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := in.cfg.Store.Update(ctx, func(w *store.Writer) error {
		n = 0
		ups, err := w.Uploads()
		if err != nil {
			return err
		}
		uploading := make(map[string]bool, len(ups))
		for _, u := range ups {
			if max(u.UpdatedNS, u.StartedNS) >= before.UnixNano() {
				uploading[u.CaptureID] = true
				continue
			}
			if err := w.DropUpload(u.CaptureID); err != nil {
				return err
			}
			n++
		}
		cmds, err := w.Commands()
		if err != nil {
			return err
		}
		for _, c := range cmds {
			if c.CreatedNS < before.UnixNano() && !uploading[c.CaptureID] {
				if err := w.DeleteCommand(c.CaptureID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}
