// Package spool keeps trimmed captures on local disk until the collector
// has committed them: each entry is an .fpcap file and a small JSON sidecar
// with its metadata and upload state, both fsynced before anything is sent.
// The spool is bounded by bytes: when a new capture does not fit, the
// oldest entries are dropped, each with a log line and a callback. A
// capture the collector refuses for good, or whose file no longer matches
// its sidecar, moves to the rejected/ folder with the reason beside it.
package spool

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// Defaults.
const (
	// DefaultMaxBytes bounds the spool when Options.MaxBytes is zero.
	DefaultMaxBytes = 10 << 30
	// ChunkSize is the upload chunk size: 1 MiB.
	ChunkSize = 1 << 20
)

// Errors.
var (
	// ErrTooLarge means one capture is larger than the whole spool.
	ErrTooLarge = errors.New("spool: the capture is larger than the spool's limit: raise --spool-max-bytes or capture a shorter window")
	// ErrNotFound means no entry has that id.
	ErrNotFound = errors.New("spool: no such capture in the spool")
	// ErrBadID means a capture id cannot be used as a file name.
	ErrBadID = errors.New("spool: bad capture id: use 1-128 letters, digits, '.', '_' and '-', starting with a letter or digit, with no '..'")
	// ErrExists means an entry with that id is already spooled.
	ErrExists = errors.New("spool: a capture with that id is already spooled")
	// ErrCorrupt means an entry's capture file no longer has the size or
	// SHA-256 its sidecar records: it changed on disk after spooling.
	ErrCorrupt = errors.New("spool: the capture file no longer matches its sidecar (size or sha256)")
)

// Meta is an entry's sidecar: what the capture is and where its upload is.
type Meta struct {
	// CaptureID is the entry's id.
	CaptureID string `json:"capture_id"`
	// AgentID is the agent that took it.
	AgentID string `json:"agent_id,omitempty"`
	// Created is when it was spooled.
	Created time.Time `json:"created"`
	// Bytes is the .fpcap file's size.
	Bytes int64 `json:"bytes"`
	// SHA256 is the file's SHA-256, hex.
	SHA256 string `json:"sha256"`
	// Chunks is the number of ChunkSize chunks.
	Chunks int64 `json:"chunks"`
	// NextSeq is the next chunk the collector expects, as last heard.
	NextSeq int64 `json:"next_seq"`
	// Attempts counts upload attempts.
	Attempts int `json:"attempts"`
	// Checks are the capture's integrity findings.
	Checks map[string]string `json:"checks,omitempty"`
	// RawDir is the raw profiler output, deleted after ingest unless KeepRaw.
	RawDir string `json:"raw_dir,omitempty"`
	// KeepRaw keeps RawDir after ingest.
	KeepRaw bool `json:"keep_raw,omitempty"`
	// RawBytes is the raw output's size.
	RawBytes int64 `json:"raw_bytes,omitempty"`
}

// Options configure a spool. The zero value works.
type Options struct {
	// MaxBytes bounds the .fpcap bytes held. Zero means DefaultMaxBytes.
	MaxBytes int64
	// Logger receives logs. Nil discards them.
	Logger *slog.Logger
	// OnDrop, if set, is called for each entry dropped to make room.
	OnDrop func(Meta)
	// OnSize, if set, is called with the spool's size after each change.
	OnSize func(int64)
	// MaxRejectedBytes bounds the capture bytes kept in the rejected/
	// folder: beyond it the oldest rejected captures are deleted (the
	// newest is always kept). Zero means a quarter of MaxBytes.
	MaxRejectedBytes int64
}

// Spool is a folder of captures waiting for upload. Its methods are safe
// for concurrent use.
type Spool struct {
	dir   string
	opts  Options
	log   *slog.Logger
	ready chan struct{}

	mu      sync.Mutex
	entries map[string]*Meta
	size    int64
}

// Open opens (creating) the spool in dir, removes half-written files and
// loads the entries.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxRejectedBytes <= 0 {
		opts.MaxRejectedBytes = opts.MaxBytes / 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, opts: opts, log: log.With("component", "spool"), ready: make(chan struct{}, 1),
		entries: map[string]*Meta{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"), strings.HasPrefix(name, "."):
			// Put's and renameio's temporary files, left by a crash.
			os.Remove(filepath.Join(dir, name))
		case strings.HasSuffix(name, ".json"):
			id := strings.TrimSuffix(name, ".json")
			if !ids.Valid(id) {
				s.log.Warn("ignoring a spool file whose name is not a capture id", "file", name)
				continue
			}
			m, err := s.readMeta(id)
			if err != nil {
				s.log.Warn("dropping an unreadable spool entry", "capture_id", id, "err", err)
				s.removeFiles(id)
				continue
			}
			st, err := os.Stat(s.path(id))
			if err != nil {
				s.log.Warn("dropping a spool entry whose capture file is missing", "capture_id", id)
				s.removeFiles(id)
				continue
			}
			if st.Size() != m.Bytes {
				// Kept: the uploader's check rejects it, and reports it.
				s.log.Warn("a spool entry's capture file has another size than its sidecar says", "capture_id", id,
					"bytes", st.Size(), "sidecar_bytes", m.Bytes)
			}
			s.entries[id] = m
			s.size += m.Bytes
		}
	}
	// A capture file without a sidecar was never fully spooled.
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".fpcap"); ok && s.entries[id] == nil {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	s.sized()
	if len(s.entries) > 0 {
		s.notify()
	}
	return s, nil
}

// Dir returns the spool's folder.
func (s *Spool) Dir() string { return s.dir }

// Ready is signalled when an entry is added (and at Open when some exist).
func (s *Spool) Ready() <-chan struct{} { return s.ready }

func (s *Spool) notify() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *Spool) path(id string) string     { return filepath.Join(s.dir, id+".fpcap") }
func (s *Spool) metaPath(id string) string { return filepath.Join(s.dir, id+".json") }

// Put spools a capture: write writes the .fpcap bytes, which are fsynced
// with their sidecar before Put returns. meta's CaptureID must be set; its
// size, hash and chunks are filled in. Older entries are dropped to make
// room.
func (s *Spool) Put(meta Meta, write func(w io.Writer) error) (Meta, error) {
	id := meta.CaptureID
	if !ids.Valid(id) {
		return Meta{}, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	s.mu.Lock()
	_, exists := s.entries[id]
	s.mu.Unlock()
	if exists {
		return Meta{}, fmt.Errorf("%w: %s", ErrExists, id)
	}
	tmp := s.path(id) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Meta{}, fmt.Errorf("spool %s: %w", id, err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = write(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return Meta{}, fmt.Errorf("spool %s: %w", id, err)
	}
	meta.Bytes = cw.n
	meta.SHA256 = hex.EncodeToString(h.Sum(nil))
	meta.Chunks = (cw.n + ChunkSize - 1) / ChunkSize
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	if meta.Bytes > s.opts.MaxBytes {
		os.Remove(tmp)
		return Meta{}, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, meta.Bytes, s.opts.MaxBytes)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.makeRoomLocked(meta.Bytes)
	if err := os.Rename(tmp, s.path(id)); err != nil {
		os.Remove(tmp)
		return Meta{}, fmt.Errorf("spool %s: %w", id, err)
	}
	if err := s.writeMeta(&meta); err != nil {
		os.Remove(s.path(id))
		return Meta{}, err
	}
	if err := syncDir(s.dir); err != nil {
		return Meta{}, fmt.Errorf("spool %s: sync folder: %w", id, err)
	}
	m := meta
	s.entries[id] = &m
	s.size += m.Bytes
	s.sizedLocked()
	s.notify()
	return meta, nil
}

// makeRoomLocked drops the oldest entries until n more bytes fit.
func (s *Spool) makeRoomLocked(n int64) {
	for s.size+n > s.opts.MaxBytes && len(s.entries) > 0 {
		old := s.oldestLocked()
		s.log.Warn("spool full: dropping the oldest capture before it was uploaded",
			"capture_id", old.CaptureID, "bytes", old.Bytes, "created", old.Created, "spool_bytes", s.size,
			"max_bytes", s.opts.MaxBytes)
		s.removeFiles(old.CaptureID)
		delete(s.entries, old.CaptureID)
		s.size -= old.Bytes
		if s.opts.OnDrop != nil {
			s.opts.OnDrop(*old)
		}
	}
}

func (s *Spool) oldestLocked() *Meta {
	var old *Meta
	for _, m := range s.entries {
		if old == nil || m.Created.Before(old.Created) || (m.Created.Equal(old.Created) && m.CaptureID < old.CaptureID) {
			old = m
		}
	}
	return old
}

// List returns the entries, oldest first.
func (s *Spool) List() []Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Meta, 0, len(s.entries))
	for _, m := range s.entries {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Meta) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.CaptureID, b.CaptureID)
	})
	return out
}

// IDs returns the entries' ids, oldest first.
func (s *Spool) IDs() []string {
	var out []string
	for _, m := range s.List() {
		out = append(out, m.CaptureID)
	}
	return out
}

// Get returns an entry's metadata.
func (s *Spool) Get(id string) (Meta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.entries[id]
	if !ok {
		return Meta{}, false
	}
	return *m, true
}

// Size returns the bytes held.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Open opens an entry's capture file for reading.
func (s *Spool) Open(id string) (*os.File, Meta, error) {
	m, ok := s.Get(id)
	if !ok {
		return nil, Meta{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	f, err := os.Open(s.path(id))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("open spooled %s: %w", id, err)
	}
	return f, m, nil
}

// Update changes an entry's sidecar with fn and writes it durably.
func (s *Spool) Update(id string, fn func(*Meta)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.entries[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	c := *m
	fn(&c)
	c.CaptureID, c.Bytes, c.SHA256, c.Chunks = m.CaptureID, m.Bytes, m.SHA256, m.Chunks
	if err := s.writeMeta(&c); err != nil {
		return err
	}
	*m = c
	return nil
}

// Remove deletes an entry (after the collector committed it). Removing a
// missing entry is not an error.
func (s *Spool) Remove(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.entries[id]
	if !ok {
		return nil
	}
	if err := s.removeFiles(id); err != nil {
		return err
	}
	delete(s.entries, id)
	s.size -= m.Bytes
	s.sizedLocked()
	return nil
}

func (s *Spool) removeFiles(id string) error {
	// The sidecar goes first: without it the capture file is garbage.
	if err := os.Remove(s.metaPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spooled %s: %w", id, err)
	}
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spooled %s: %w", id, err)
	}
	return nil
}

func (s *Spool) readMeta(id string) (*Meta, error) { return readMetaFile(s.metaPath(id), id) }

// readMetaFile reads the sidecar at path, which must name capture id.
func readMetaFile(path, id string) (*Meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.CaptureID != id {
		return nil, fmt.Errorf("sidecar names capture %q", m.CaptureID)
	}
	return &m, nil
}

// writeMeta writes a sidecar atomically: temp file, fsync, rename
// (renameio).
func (s *Spool) writeMeta(m *Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(s.metaPath(m.CaptureID), b, 0o600, renameio.WithTempDir(s.dir)); err != nil {
		return fmt.Errorf("write sidecar %s: %w", m.CaptureID, err)
	}
	return nil
}

func (s *Spool) sized() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizedLocked()
}

func (s *Spool) sizedLocked() {
	if s.opts.OnSize != nil {
		s.opts.OnSize(s.size)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type countWriter struct {
	w io.Writer
	n int64
}

// Write counts and passes on p.
func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
