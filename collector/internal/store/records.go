package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Capture statuses.
const (
	// StatusCommitted: stored, not analyzed yet.
	StatusCommitted = "committed"
	// StatusAnalyzed: stored with a report from every analyzer.
	StatusAnalyzed = "analyzed"
	// StatusAnalysisFailed: stored; some analyzer failed (see the report).
	StatusAnalysisFailed = "analysis_failed"
)

// Agent is what the store keeps of an agent.
type Agent struct {
	// ID is the agent's id.
	ID string `json:"id"`
	// Host is its host name.
	Host string `json:"host,omitempty"`
	// Labels are its labels.
	Labels map[string]string `json:"labels,omitempty"`
	// AgentVersion is the agent's version.
	AgentVersion string `json:"agent_version,omitempty"`
	// ServerVersion is the model server's version.
	ServerVersion string `json:"server_version,omitempty"`
	// Backends are the capture backends it supports.
	Backends []string `json:"backends,omitempty"`
	// FirstSeenNS is when it first registered, epoch ns.
	FirstSeenNS int64 `json:"first_seen_ns,omitempty"`
	// LastSeenNS is when it was last heard from, epoch ns.
	LastSeenNS int64 `json:"last_seen_ns,omitempty"`
}

// Capture is a committed capture's record.
type Capture struct {
	// ID is the capture's id.
	ID string `json:"id"`
	// AgentID is the agent that made it.
	AgentID string `json:"agent_id"`
	// Host is the agent's host.
	Host string `json:"host,omitempty"`
	// Labels are the agent's labels and the capture's own.
	Labels map[string]string `json:"labels,omitempty"`
	// Trigger is "manual", "fleet" or "schedule".
	Trigger string `json:"trigger,omitempty"`
	// FleetID is the fleet capture it belongs to.
	FleetID string `json:"fleet_id,omitempty"`
	// ScheduleID is the schedule that made it.
	ScheduleID string `json:"schedule_id,omitempty"`
	// CreatedNS is the commit time, epoch ns; with ID it is the record's key.
	CreatedNS int64 `json:"created_ns"`
	// Status is StatusCommitted, StatusAnalyzed or StatusAnalysisFailed.
	Status string `json:"status"`
	// StatusDetail says why, for a failed analysis.
	StatusDetail string `json:"status_detail,omitempty"`
	// Summary is capture.Summary as JSON.
	Summary json.RawMessage `json:"summary,omitempty"`
	// Tally is fpcap.Tally as JSON: what the .fpcap holds as the decoding
	// limits count it, counted by ingest's one parse, so analysis streams
	// the stored records to plugins without decoding them. Empty in
	// captures committed before it was kept; analysis then decodes the
	// .fpcap.
	Tally json.RawMessage `json:"tally,omitempty"`
	// SizeBytes is the size of its .fpcap.
	SizeBytes int64 `json:"size_bytes"`
	// Chunks is how many chunks its .fpcap is stored in.
	Chunks int64 `json:"chunks"`
	// SHA256 is the .fpcap's SHA-256.
	SHA256 []byte `json:"sha256,omitempty"`
	// BackupStatus is "", "pending", "done" or "failed: …".
	BackupStatus string `json:"backup_status,omitempty"`
	// Options are the capture options, a marshalled agent.v1.CaptureOptions.
	Options []byte `json:"options,omitempty"`
	// Context is where it came from: server info, requests sent, versions.
	Context map[string]string `json:"context,omitempty"`
}

// Command is what the collector asked an agent to capture; its fields go
// into the capture's record when the upload commits.
type Command struct {
	// CaptureID is the capture's id.
	CaptureID string `json:"capture_id"`
	// AgentID is the agent asked.
	AgentID string `json:"agent_id"`
	// FleetID is the fleet capture, if any.
	FleetID string `json:"fleet_id,omitempty"`
	// Trigger is "manual", "fleet" or "schedule".
	Trigger string `json:"trigger,omitempty"`
	// ScheduleID is the schedule, if any.
	ScheduleID string `json:"schedule_id,omitempty"`
	// Labels are the capture's own labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Options are a marshalled agent.v1.CaptureOptions.
	Options []byte `json:"options,omitempty"`
	// CreatedNS is when the command was made, epoch ns.
	CreatedNS int64 `json:"created_ns"`
	// StartNS and DeadlineNS are the command's common start time and
	// per-agent deadline, epoch ns (zero in commands stored before they
	// were kept), so a restarted collector can finish tracking it.
	StartNS    int64 `json:"start_ns,omitempty"`
	DeadlineNS int64 `json:"deadline_ns,omitempty"`
}

// Upload is a staged upload that is not committed yet.
type Upload struct {
	// CaptureID is the capture's id.
	CaptureID string `json:"capture_id"`
	// AgentID is the uploading agent.
	AgentID string `json:"agent_id"`
	// Chunks is how many chunks the agent announced.
	Chunks int64 `json:"chunks"`
	// Bytes is the announced .fpcap size.
	Bytes int64 `json:"bytes"`
	// SHA256 is the announced .fpcap SHA-256.
	SHA256 []byte `json:"sha256"`
	// NextSeq is the next chunk expected: every chunk below it is staged.
	NextSeq int64 `json:"next_seq"`
	// NextOffset is the bytes staged so far.
	NextOffset int64 `json:"next_offset"`
	// StartedNS is when the upload first started, epoch ns.
	StartedNS int64 `json:"started_ns"`
	// UpdatedNS is when a chunk was last staged (or the upload started), epoch ns.
	UpdatedNS int64 `json:"updated_ns,omitempty"`
}

// get unmarshals the JSON value at key in bucket into v.
func (r *Reader) get(bucket, key []byte, v any) error {
	b := r.tx.Bucket(bucket).Get(key)
	if b == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrCorrupt, bucket, key, err)
	}
	return nil
}

// put stores v as JSON at key in bucket.
func (w *Writer) put(bucket, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", bucket, key, err)
	}
	return w.tx.Bucket(bucket).Put(key, b)
}

// Agent returns an agent.
func (r *Reader) Agent(id string) (*Agent, error) {
	var a Agent
	if err := r.get(bAgents, []byte(id), &a); err != nil {
		return nil, fmt.Errorf("agent %q: %w", id, err)
	}
	return &a, nil
}

// Agents returns every agent, sorted by id.
func (r *Reader) Agents() ([]Agent, error) {
	var out []Agent
	err := r.tx.Bucket(bAgents).ForEach(func(k, v []byte) error {
		var a Agent
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("%w: agent %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// PutAgent stores an agent.
func (w *Writer) PutAgent(a *Agent) error {
	if a.ID == "" {
		return fmt.Errorf("put agent: %w", ErrBadID)
	}
	return w.put(bAgents, []byte(a.ID), a)
}

// Command returns the command of a capture.
func (r *Reader) Command(id string) (*Command, error) {
	var c Command
	if err := r.get(bCommands, []byte(id), &c); err != nil {
		return nil, fmt.Errorf("command %q: %w", id, err)
	}
	return &c, nil
}

// PutCommand stores a capture command.
func (w *Writer) PutCommand(c *Command) error {
	if !ValidID(c.CaptureID) {
		return fmt.Errorf("put command %q: %w", c.CaptureID, ErrBadID)
	}
	return w.put(bCommands, []byte(c.CaptureID), c)
}

// Capture returns a committed capture's record.
func (r *Reader) Capture(id string) (*Capture, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("capture %q: %w", id, ErrBadID)
	}
	k := r.tx.Bucket(bCaptureIDs).Get([]byte(id))
	if k == nil {
		return nil, fmt.Errorf("capture %q: %w", id, ErrNotFound)
	}
	var c Capture
	if err := r.get(bCaptures, k, &c); err != nil {
		return nil, fmt.Errorf("capture %q: %w", id, err)
	}
	return &c, nil
}

// Committed reports whether a capture is committed.
func (r *Reader) Committed(id string) bool {
	return r.tx.Bucket(bCaptureIDs).Get([]byte(id)) != nil
}

// WriteBlob writes a committed capture's .fpcap bytes to w.
func (r *Reader) WriteBlob(id string, w io.Writer) (int64, error) {
	if !ValidID(id) {
		return 0, fmt.Errorf("capture %q blob: %w", id, ErrBadID)
	}
	b := r.tx.Bucket(bBlobs).Bucket([]byte(id))
	if b == nil {
		return 0, fmt.Errorf("capture %q blob: %w", id, ErrNotFound)
	}
	return writeChunks(b, w)
}

// Upload returns a staged upload.
func (r *Reader) Upload(id string) (*Upload, error) {
	var u Upload
	if err := r.get(bUploads, []byte(id), &u); err != nil {
		return nil, fmt.Errorf("upload %q: %w", id, err)
	}
	return &u, nil
}

// Uploads returns every staged upload.
func (r *Reader) Uploads() ([]Upload, error) {
	var out []Upload
	err := r.tx.Bucket(bUploads).ForEach(func(k, v []byte) error {
		var u Upload
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("%w: upload %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, u)
		return nil
	})
	return out, err
}

// WriteStaged writes the staged bytes of an upload to w, in order.
func (r *Reader) WriteStaged(id string, w io.Writer) (int64, error) {
	b := r.tx.Bucket(bStaging).Bucket([]byte(id))
	if b == nil {
		return 0, fmt.Errorf("upload %q staging: %w", id, ErrNotFound)
	}
	return writeChunks(b, w)
}

func writeChunks(b *bolt.Bucket, w io.Writer) (int64, error) {
	var n int64
	err := b.ForEach(func(_, v []byte) error {
		m, err := w.Write(v)
		n += int64(m)
		return err
	})
	return n, err
}

// Report returns a copy of a capture's stored report.
func (r *Reader) Report(id string) ([]byte, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("report %q: %w", id, ErrBadID)
	}
	b := r.tx.Bucket(bReports).Get([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("report %q: %w", id, ErrNotFound)
	}
	return bytes.Clone(b), nil
}

// PutReport stores a committed capture's report.
func (w *Writer) PutReport(id string, report []byte) error {
	if !w.Committed(id) {
		return fmt.Errorf("put report %q: %w", id, ErrNotFound)
	}
	return w.tx.Bucket(bReports).Put([]byte(id), report)
}

// CountByStatus counts the committed captures by status.
func (r *Reader) CountByStatus() map[string]int {
	out := make(map[string]int)
	c := r.tx.Bucket(bIdxStatus).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if i := bytes.IndexByte(k, 0); i >= 0 {
			out[string(k[:i])]++
		}
	}
	return out
}

// BeginUpload stages a new upload, or returns the one already staged for the
// same capture when its size and SHA-256 match (a resumed upload). An upload
// that differs restarts from nothing.
func (w *Writer) BeginUpload(u *Upload) (*Upload, error) {
	if !ValidID(u.CaptureID) {
		return nil, fmt.Errorf("begin upload %q: %w", u.CaptureID, ErrBadID)
	}
	if w.Committed(u.CaptureID) {
		return nil, fmt.Errorf("begin upload %q: %w", u.CaptureID, ErrExists)
	}
	if old, err := w.Upload(u.CaptureID); err == nil {
		if old.Bytes == u.Bytes && bytes.Equal(old.SHA256, u.SHA256) && old.AgentID == u.AgentID && w.tx.Bucket(bStaging).Bucket([]byte(u.CaptureID)) != nil {
			return old, nil
		}
		if err := w.DropUpload(u.CaptureID); err != nil {
			return nil, err
		}
	}
	nu := *u
	nu.NextSeq, nu.NextOffset = 0, 0
	nu.UpdatedNS = max(nu.UpdatedNS, nu.StartedNS)
	if _, err := w.tx.Bucket(bStaging).CreateBucket([]byte(u.CaptureID)); err != nil {
		return nil, fmt.Errorf("begin upload %q: %w", u.CaptureID, err)
	}
	w.markStaged(u.CaptureID)
	if err := w.put(bUploads, []byte(u.CaptureID), &nu); err != nil {
		return nil, err
	}
	return &nu, nil
}

// StageChunk stages chunk seq of an upload, which must be its NextSeq and
// start at its NextOffset, and returns the upload as it is now.
func (w *Writer) StageChunk(id string, seq, offset int64, data []byte) (*Upload, error) {
	u, err := w.Upload(id)
	if err != nil {
		return nil, err
	}
	if seq != u.NextSeq || offset != u.NextOffset {
		return nil, fmt.Errorf("%w: upload %q: got chunk %d at byte %d, want chunk %d at byte %d", ErrSequence, id, seq, offset, u.NextSeq, u.NextOffset)
	}
	sb := w.tx.Bucket(bStaging).Bucket([]byte(id))
	if sb == nil {
		return nil, fmt.Errorf("%w: upload %q has no staging bucket", ErrCorrupt, id)
	}
	sb.FillPercent = 1.0
	w.markStaged(id)
	if err := sb.Put(u64(uint64(seq)), data); err != nil {
		return nil, fmt.Errorf("stage chunk %d of %q: %w", seq, id, err)
	}
	u.NextSeq++
	u.NextOffset += int64(len(data))
	u.UpdatedNS = time.Now().UnixNano()
	if err := w.put(bUploads, []byte(id), u); err != nil {
		return nil, err
	}
	return u, nil
}

// DropUpload forgets a staged upload and its chunks.
func (w *Writer) DropUpload(id string) error {
	if err := w.tx.Bucket(bUploads).Delete([]byte(id)); err != nil {
		return err
	}
	if w.tx.Bucket(bStaging).Bucket([]byte(id)) != nil {
		if err := w.tx.Bucket(bStaging).DeleteBucket([]byte(id)); err != nil {
			return fmt.Errorf("drop upload %q: %w", id, err)
		}
	}
	return nil
}

// Commit makes a staged upload a visible capture: the staged chunks become
// its blob, and its record and every index entry are written, all in this
// transaction. c.ID names the upload; c.CreatedNS must be set; c.Status
// defaults to StatusCommitted. The upload's command, if any, is deleted.
func (w *Writer) Commit(c *Capture) error {
	if !ValidID(c.ID) {
		return fmt.Errorf("commit %q: %w", c.ID, ErrBadID)
	}
	if w.Committed(c.ID) {
		return fmt.Errorf("commit %q: %w", c.ID, ErrExists)
	}
	u, err := w.Upload(c.ID)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c.Status == "" {
		c.Status = StatusCommitted
	}
	c.Chunks = u.NextSeq
	id := []byte(c.ID)
	if err := w.moveStaged(id); err != nil {
		return fmt.Errorf("commit %q: move staged chunks: %w", c.ID, err)
	}
	if err := w.tx.Bucket(bUploads).Delete(id); err != nil {
		return err
	}
	if err := w.tx.Bucket(bCommands).Delete(id); err != nil {
		return err
	}
	k := captureKey(c.CreatedNS, c.ID)
	caps := w.tx.Bucket(bCaptures)
	caps.FillPercent = 1.0
	if err := w.put(bCaptures, k, c); err != nil {
		return err
	}
	if err := w.tx.Bucket(bCaptureIDs).Put(id, k); err != nil {
		return err
	}
	return w.index(c, k, true)
}

// markStaged notes that this transaction changed an upload's chunks.
func (w *Writer) markStaged(id string) {
	if w.staged == nil {
		w.staged = make(map[string]bool)
	}
	w.staged[id] = true
}

// moveStaged makes staging/<id> blobs/<id>. A bucket staged in an earlier
// transaction moves without copying (MoveBucket); one changed in this
// transaction is copied, because MoveBucket moves the bucket as last
// committed and would drop this transaction's changes.
func (w *Writer) moveStaged(id []byte) error {
	staging, blobs := w.tx.Bucket(bStaging), w.tx.Bucket(bBlobs)
	if !w.staged[string(id)] {
		return w.tx.MoveBucket(id, staging, blobs)
	}
	src := staging.Bucket(id)
	if src == nil {
		return fmt.Errorf("%w: no staging bucket", ErrCorrupt)
	}
	dst, err := blobs.CreateBucket(id)
	if err != nil {
		return err
	}
	dst.FillPercent = 1.0
	if err := src.ForEach(func(k, v []byte) error { return dst.Put(bytes.Clone(k), bytes.Clone(v)) }); err != nil {
		return err
	}
	return staging.DeleteBucket(id)
}

// index puts (or deletes) a capture's index entries.
func (w *Writer) index(c *Capture, k []byte, put bool) error {
	type entry struct {
		bucket []byte
		value  string
	}
	entries := []entry{{bIdxAgent, c.AgentID}, {bIdxTrigger, c.Trigger}, {bIdxStatus, c.Status}}
	for _, lk := range slices.Sorted(maps.Keys(c.Labels)) {
		if v := labelValue(lk, c.Labels[lk]); v != "" {
			entries = append(entries, entry{bIdxLabel, v})
		}
	}
	for _, e := range entries {
		b := w.tx.Bucket(e.bucket)
		var err error
		if put {
			err = b.Put(idxKey(e.value, k), nil)
		} else {
			err = b.Delete(idxKey(e.value, k))
		}
		if err != nil {
			return fmt.Errorf("index %s of %q: %w", e.bucket, c.ID, err)
		}
	}
	return nil
}

// SetStatus changes a committed capture's status.
func (w *Writer) SetStatus(id, status, detail string) error {
	c, err := w.Capture(id)
	if err != nil {
		return err
	}
	k := captureKey(c.CreatedNS, c.ID)
	idx := w.tx.Bucket(bIdxStatus)
	if err := idx.Delete(idxKey(c.Status, k)); err != nil {
		return err
	}
	c.Status, c.StatusDetail = status, detail
	if err := idx.Put(idxKey(c.Status, k), nil); err != nil {
		return err
	}
	return w.put(bCaptures, k, c)
}

// SetBackupStatus changes a committed capture's backup status.
func (w *Writer) SetBackupStatus(id, status string) error {
	c, err := w.Capture(id)
	if err != nil {
		return err
	}
	c.BackupStatus = status
	return w.put(bCaptures, captureKey(c.CreatedNS, c.ID), c)
}

// DeleteCapture removes a committed capture, its blob, report, index
// entries, summary and changes.
func (w *Writer) DeleteCapture(id string) error {
	c, err := w.Capture(id)
	if err != nil {
		return err
	}
	k := captureKey(c.CreatedNS, c.ID)
	if err := w.index(c, k, false); err != nil {
		return err
	}
	if err := w.deleteInsight(c, k); err != nil {
		return fmt.Errorf("delete capture %q: %w", id, err)
	}
	for _, op := range []func() error{
		func() error { return w.tx.Bucket(bCaptures).Delete(k) },
		func() error { return w.tx.Bucket(bCaptureIDs).Delete([]byte(id)) },
		func() error { return w.tx.Bucket(bReports).Delete([]byte(id)) },
		func() error { return w.tx.Bucket(bBlobs).DeleteBucket([]byte(id)) },
	} {
		if err := op(); err != nil {
			return fmt.Errorf("delete capture %q: %w", id, err)
		}
	}
	return nil
}

// OpenBlob returns a reader of a committed capture's .fpcap bytes, valid
// only until the transaction ends.
func (r *Reader) OpenBlob(id string) (io.Reader, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("capture %q blob: %w", id, ErrBadID)
	}
	b := r.tx.Bucket(bBlobs).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("capture %q blob: %w", id, ErrNotFound)
	}
	return newChunkReader(b), nil
}

// OpenStaged returns a reader of an upload's staged bytes, valid only until
// the transaction ends.
func (r *Reader) OpenStaged(id string) (io.Reader, error) {
	b := r.tx.Bucket(bStaging).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("upload %q staging: %w", id, ErrNotFound)
	}
	return newChunkReader(b), nil
}

// chunkReader reads a bucket's values in key order as one stream.
type chunkReader struct {
	cur  *bolt.Cursor
	cur0 bool
	buf  []byte
}

func newChunkReader(b *bolt.Bucket) *chunkReader { return &chunkReader{cur: b.Cursor()} }

// Read implements io.Reader.
func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		var k, v []byte
		if !c.cur0 {
			k, v = c.cur.First()
			c.cur0 = true
		} else {
			k, v = c.cur.Next()
		}
		if k == nil {
			return 0, io.EOF
		}
		c.buf = v
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}
