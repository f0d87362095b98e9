package spool

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// RejectedDir is the folder, inside the spool, that keeps the captures
// the collector refused for good: <id>.fpcap, its sidecar <id>.json, and
// <id>.reason, a line saying when and why.
const RejectedDir = "rejected"

// Rejected is a capture in the rejected folder.
type Rejected struct {
	// Meta is its sidecar.
	Meta Meta
	// Reason is why it was rejected, as written in its .reason file.
	Reason string
	// At is when it was rejected.
	At time.Time
	// Path is its capture file ("" once deleted to bound the folder).
	Path string
}

// Verify checks that an entry's capture file still has the size and
// SHA-256 its sidecar records, and returns ErrCorrupt (saying what
// differs) when it does not.
func (s *Spool) Verify(id string) error {
	f, m, err := s.Open(id)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("verify spooled %s: %w", id, err)
	}
	if n != m.Bytes {
		return fmt.Errorf("%w: %s has %d bytes, its sidecar says %d", ErrCorrupt, id, n, m.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, its sidecar says %s", ErrCorrupt, id, got, m.SHA256)
	}
	return nil
}

// Reject moves an entry to the rejected folder with reason written beside
// it, and forgets it: it is no longer pending or uploaded. It returns the
// capture file's new path. The folder is then kept under
// Options.MaxRejectedBytes, oldest first.
func (s *Spool) Reject(id, reason string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.entries[id]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	path, err := s.moveRejected(m, reason)
	if err != nil {
		return "", err
	}
	delete(s.entries, id)
	s.size -= m.Bytes
	s.sizedLocked()
	return path, nil
}

// Rejected lists the rejected captures, oldest first.
func (s *Spool) Rejected() ([]Rejected, error) {
	dir := filepath.Join(s.dir, RejectedDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rejected captures: %w", err)
	}
	var out []Rejected
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if r, ok := readRejected(dir, id); ok {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Rejected) int { return a.At.Compare(b.At) })
	return out, nil
}

// Rejection returns capture id's entry in the rejected folder, if it is there.
func (s *Spool) Rejection(id string) (Rejected, bool) {
	if !ids.Valid(id) {
		return Rejected{}, false
	}
	return readRejected(filepath.Join(s.dir, RejectedDir), id)
}

// readRejected reads capture id's entry in the rejected folder dir.
func readRejected(dir, id string) (Rejected, bool) {
	r := Rejected{Meta: Meta{CaptureID: id}}
	m, merr := readMetaFile(filepath.Join(dir, id+".json"), id)
	if merr == nil {
		r.Meta = *m
	}
	b, rerr := os.ReadFile(filepath.Join(dir, id+".reason"))
	if rerr == nil {
		at, why, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		r.At, _ = time.Parse(time.RFC3339Nano, at)
		r.Reason = why
	}
	if merr != nil && rerr != nil {
		return Rejected{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, id+".fpcap")); err == nil {
		r.Path = filepath.Join(dir, id+".fpcap")
	}
	return r, true
}

// moveRejected writes m's reason file and moves its capture file, then its
// sidecar, into the rejected folder (a crash in between leaves the copy in
// the folder and a sidecar that Open drops), then bounds the folder.
func (s *Spool) moveRejected(m *Meta, reason string) (string, error) {
	id := m.CaptureID
	dir := filepath.Join(s.dir, RejectedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("reject %s: %w", id, err)
	}
	line := time.Now().UTC().Format(time.RFC3339Nano) + " " + strings.ReplaceAll(reason, "\n", " ") + "\n"
	if err := writeFileSync(filepath.Join(dir, id+".reason"), []byte(line)); err != nil {
		return "", fmt.Errorf("reject %s: %w", id, err)
	}
	to := filepath.Join(dir, id+".fpcap")
	if err := os.Rename(s.path(id), to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reject %s: %w", id, err)
	}
	if err := os.Rename(s.metaPath(id), filepath.Join(dir, id+".json")); err != nil {
		return "", fmt.Errorf("reject %s: %w", id, err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("reject %s: sync folder: %w", id, err)
	}
	if err := syncDir(s.dir); err != nil {
		return "", fmt.Errorf("reject %s: sync folder: %w", id, err)
	}
	s.boundRejected(id)
	return to, nil
}

// boundRejected deletes the oldest rejected captures until the folder's
// capture bytes fit Options.MaxRejectedBytes; keep is never deleted.
func (s *Spool) boundRejected(keep string) {
	dir := filepath.Join(s.dir, RejectedDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		id   string
		size int64
		at   time.Time
	}
	var all []entry
	var total int64
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".fpcap")
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, entry{id, fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	slices.SortFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	for _, e := range all {
		if total <= s.opts.MaxRejectedBytes {
			return
		}
		if e.id == keep {
			continue
		}
		for _, ext := range []string{".json", ".reason", ".fpcap"} {
			os.Remove(filepath.Join(dir, e.id+ext))
		}
		total -= e.size
		s.log.Warn("rejected folder full: deleted the oldest rejected capture", "capture_id", e.id, "bytes", e.size,
			"max_rejected_bytes", s.opts.MaxRejectedBytes)
	}
}

// writeFileSync writes b to path atomically and durably.
func writeFileSync(path string, b []byte) error {
	return renameio.WriteFile(path, b, 0o600, renameio.WithTempDir(filepath.Dir(path)))
}
