package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Insight buckets (since version 5): per-capture summaries, the changes
// found against baselines, and pinned baselines. The values are opaque
// here (written by the collector's watch package); the keys are the
// captures key (commit time, 8 bytes big-endian, and id) so every walk is
// in commit order.
var (
	bSummaries    = []byte("summaries")
	bSummaryFleet = []byte("summary_fleet")
	bChanges      = []byte("changes")
	bBaselines    = []byte("baselines")
)

// changeKey is a change's key: the capture's key, 0x00, then its index as 4
// bytes big-endian (ids never hold 0x00, so one capture's changes never
// interleave with another's).
func changeKey(ckey []byte, i int) []byte {
	k := make([]byte, 0, len(ckey)+5)
	k = append(k, ckey...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(i))
}

// changeCapture returns the captures key of a change key.
func changeCapture(k []byte) []byte {
	if len(k) < 5 {
		return nil
	}
	return k[:len(k)-5]
}

// ckeyOf returns a committed capture's key.
func (r *Reader) ckeyOf(id string) ([]byte, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("capture %q: %w", id, ErrBadID)
	}
	k := r.tx.Bucket(bCaptureIDs).Get([]byte(id))
	if k == nil {
		return nil, fmt.Errorf("capture %q: %w", id, ErrNotFound)
	}
	return k, nil
}

// PutSummary stores a committed capture's summary, replacing any, and
// indexes it under the capture's fleet capture.
func (w *Writer) PutSummary(id string, data []byte) error {
	c, err := w.Capture(id)
	if err != nil {
		return fmt.Errorf("put summary: %w", err)
	}
	k := captureKey(c.CreatedNS, c.ID)
	b := w.tx.Bucket(bSummaries)
	b.FillPercent = 0.9 // mostly appended in key order
	if err := b.Put(k, data); err != nil {
		return fmt.Errorf("put summary of %q: %w", id, err)
	}
	if c.FleetID != "" {
		if err := w.tx.Bucket(bSummaryFleet).Put(idxKey(c.FleetID, k), nil); err != nil {
			return fmt.Errorf("index summary of %q: %w", id, err)
		}
	}
	return nil
}

// Summary returns a copy of a capture's summary.
func (r *Reader) Summary(id string) ([]byte, error) {
	k, err := r.ckeyOf(id)
	if err != nil {
		return nil, err
	}
	v := r.tx.Bucket(bSummaries).Get(k)
	if v == nil {
		return nil, fmt.Errorf("summary of %q: %w", id, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// HasSummary reports whether a committed capture has a summary.
func (r *Reader) HasSummary(id string) bool {
	k, err := r.ckeyOf(id)
	return err == nil && r.tx.Bucket(bSummaries).Get(k) != nil
}

// WalkSummaries calls fn with the summary of each capture committed in
// [since, until) (epoch ns; until 0 means no bound), oldest first, until
// fn returns false. data is valid only during the call.
func (r *Reader) WalkSummaries(since, until int64, fn func(id string, createdNS int64, data []byte) bool) error {
	cur := r.tx.Bucket(bSummaries).Cursor()
	for k, v := cur.Seek(u64(uint64(max(since, 0)))); k != nil; k, v = cur.Next() {
		t := keyTime(k)
		if until != 0 && t >= until {
			break
		}
		if !fn(keyID(k), t, v) {
			break
		}
	}
	return nil
}

// FleetSummaries calls fn with the summary of each capture of a fleet
// capture, in commit order, until fn returns false.
func (r *Reader) FleetSummaries(fleetID string, fn func(id string, data []byte) bool) error {
	sums := r.tx.Bucket(bSummaries)
	prefix := idxPrefix(fleetID)
	cur := r.tx.Bucket(bSummaryFleet).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		ck := k[len(prefix):]
		v := sums.Get(ck)
		if v == nil {
			return fmt.Errorf("%w: summary_fleet entry %q has no summary", ErrCorrupt, k)
		}
		if !fn(keyID(ck), v) {
			break
		}
	}
	return nil
}

// AgentSummaries calls fn with the summary of each capture of an agent
// committed before beforeNS (0: no bound), newest first, until fn returns
// false. Captures without a summary are skipped.
func (r *Reader) AgentSummaries(agentID string, beforeNS int64, fn func(id string, createdNS int64, data []byte) bool) error {
	sums := r.tx.Bucket(bSummaries)
	prefix := idxPrefix(agentID)
	cur := r.tx.Bucket(bIdxAgent).Cursor()
	var upper []byte
	if beforeNS > 0 {
		upper = u64(uint64(beforeNS))
	}
	for k := seekLast(cur, prefix, upper); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Prev() {
		ck := k[len(prefix):]
		v := sums.Get(ck)
		if v == nil {
			continue
		}
		if !fn(keyID(ck), keyTime(ck), v) {
			break
		}
	}
	return nil
}

// PutChanges stores the changes found for a committed capture, replacing
// any it had.
func (w *Writer) PutChanges(id string, changes [][]byte) error {
	k, err := w.ckeyOf(id)
	if err != nil {
		return fmt.Errorf("put changes: %w", err)
	}
	if err := w.deleteChanges(k); err != nil {
		return err
	}
	b := w.tx.Bucket(bChanges)
	for i, c := range changes {
		if err := b.Put(changeKey(k, i), c); err != nil {
			return fmt.Errorf("put changes of %q: %w", id, err)
		}
	}
	return nil
}

// deleteChanges deletes the changes of the capture with key ckey.
func (w *Writer) deleteChanges(ckey []byte) error {
	prefix := append(bytes.Clone(ckey), 0)
	cur := w.tx.Bucket(bChanges).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4; k, _ = cur.Seek(prefix) {
		if err := cur.Delete(); err != nil {
			return fmt.Errorf("delete changes: %w", err)
		}
	}
	return nil
}

// WalkChanges calls fn with each stored change of the captures committed
// at or after sinceNS, newest capture first (a capture's changes in their
// stored order), until fn returns false. data is valid only during the
// call.
func (r *Reader) WalkChanges(sinceNS int64, fn func(captureID string, data []byte) bool) error {
	cur := r.tx.Bucket(bChanges).Cursor()
	var group [][]byte // one capture's changes, last first
	var last []byte
	flush := func() bool {
		for i := len(group) - 1; i >= 0; i-- {
			if !fn(keyID(last), group[i]) {
				return false
			}
		}
		group = group[:0]
		return true
	}
	for k, v := cur.Last(); k != nil; k, v = cur.Prev() {
		ck := changeCapture(k)
		if keyTime(ck) < sinceNS {
			break
		}
		if last != nil && !bytes.Equal(ck, last) && !flush() {
			return nil
		}
		last = ck
		group = append(group, v)
	}
	flush()
	return nil
}

// PutBaseline pins a baseline under key (the watch package's agent and
// options key).
func (w *Writer) PutBaseline(key string, data []byte) error {
	if key == "" {
		return fmt.Errorf("put baseline: %w", ErrBadID)
	}
	return w.tx.Bucket(bBaselines).Put([]byte(key), data)
}

// Baseline returns a copy of the pinned baseline under key.
func (r *Reader) Baseline(key string) ([]byte, error) {
	v := r.tx.Bucket(bBaselines).Get([]byte(key))
	if v == nil {
		return nil, fmt.Errorf("baseline %q: %w", key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// DeleteBaseline unpins the baseline under key; a key with none is not an
// error.
func (w *Writer) DeleteBaseline(key string) error {
	return w.tx.Bucket(bBaselines).Delete([]byte(key))
}

// deleteInsight removes a capture's summary, its fleet index entry and its
// changes (DeleteCapture calls it).
func (w *Writer) deleteInsight(c *Capture, ckey []byte) error {
	if err := w.tx.Bucket(bSummaries).Delete(ckey); err != nil {
		return err
	}
	if c.FleetID != "" {
		if err := w.tx.Bucket(bSummaryFleet).Delete(idxKey(c.FleetID, ckey)); err != nil {
			return err
		}
	}
	return w.deleteChanges(ckey)
}

// checkInsight checks that every summary, fleet index entry and change
// belongs to a committed capture, and that every summary of a capture with
// a fleet capture is indexed under it.
func (r *Reader) checkInsight() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	caps := r.tx.Bucket(bCaptures)
	fleetOf := map[string]string{}
	_ = r.tx.Bucket(bSummaries).ForEach(func(k, _ []byte) error {
		v := caps.Get(k)
		if v == nil {
			bad("summary %q has no capture", keyID(k))
			return nil
		}
		var c struct {
			FleetID string `json:"fleet_id"`
		}
		if err := json.Unmarshal(v, &c); err == nil && c.FleetID != "" {
			fleetOf[string(k)] = c.FleetID
			if r.tx.Bucket(bSummaryFleet).Get(idxKey(c.FleetID, k)) == nil {
				bad("summary %q lacks its summary_fleet entry", keyID(k))
			}
		}
		return nil
	})
	_ = r.tx.Bucket(bSummaryFleet).ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || fleetOf[string(k[i+1:])] != string(k[:i]) {
			bad("summary_fleet has stray entry %q", k)
		}
		return nil
	})
	_ = r.tx.Bucket(bChanges).ForEach(func(k, _ []byte) error {
		if ck := changeCapture(k); ck == nil || caps.Get(ck) == nil {
			bad("change %q has no capture", k)
		}
		return nil
	})
	return errs
}
