package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Backup statuses (Capture.BackupStatus). "" means the capture was never
// queued for backup (backup off, or not analyzed yet).
const (
	// BackupPending: queued for backup, not uploaded yet.
	BackupPending = "pending"
	// BackupDone: every object and checksums.txt are in the bucket.
	BackupDone = "done"
	// BackupFailedPrefix starts the status of a backup whose last attempt
	// failed ("failed: <reason>"); it is retried.
	BackupFailedPrefix = "failed: "
)

// BackupUnsettled reports whether a backup status means the capture still
// has to be uploaded: pending or failed.
func BackupUnsettled(status string) bool {
	return status == BackupPending || strings.HasPrefix(status, BackupFailedPrefix)
}

// Walk calls fn with each committed capture, oldest first, until fn returns
// false. fn must not keep c past its return's transaction.
func (r *Reader) Walk(fn func(c *Capture) bool) error {
	cur := r.tx.Bucket(bCaptures).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		var c Capture
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("%w: capture %q: %v", ErrCorrupt, keyID(k), err)
		}
		if !fn(&c) {
			return nil
		}
	}
	return nil
}

// DeleteCaptures deletes the committed captures ids names, except those
// keep (if not nil) says to keep and those already gone, and returns the
// records of the deleted ones. Use small batches: the whole batch is one
// transaction.
func (w *Writer) DeleteCaptures(ids []string, keep func(c *Capture) bool) ([]Capture, error) {
	var out []Capture
	for _, id := range ids {
		c, err := w.Capture(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if keep != nil && keep(c) {
			continue
		}
		if err := w.DeleteCapture(id); err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}
