package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Check verifies the file's structure (bbolt's own check) and the schema's
// invariants: every record has its id entry, blob of the recorded size and
// index entries; every index entry, id entry and report points at a
// record; every staged upload has its chunks bucket and the other way round.
// It returns every problem found, joined. Writers wait while it runs.
func (db *DB) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// bbolt's check reads the live freelist: in a read-only transaction a
	// commit running at the same time makes it report pages "reachable
	// freed" that are not (bbolt's Tx.Check documents this). A writable
	// transaction, rolled back, keeps every writer out while it runs.
	tx, err := db.bolt.Begin(true)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	r := &Reader{tx: tx}
	errs = append(errs, r.checkSchema()...)
	errs = append(errs, r.checkSchedules()...)
	errs = append(errs, r.checkInsight()...)
	errs = append(errs, r.checkExperiments()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

func (r *Reader) checkSchema() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if v := r.Version(); v != SchemaVersion {
		bad("schema version %d, want %d", v, SchemaVersion)
	}
	want := map[string]map[string]bool{} // index bucket → expected keys
	for _, b := range [][]byte{bIdxAgent, bIdxLabel, bIdxTrigger, bIdxStatus} {
		want[string(b)] = map[string]bool{}
	}
	ids := map[string]bool{}
	caps := r.tx.Bucket(bCaptures)
	_ = caps.ForEach(func(k, v []byte) error {
		var c Capture
		if err := json.Unmarshal(v, &c); err != nil {
			bad("capture %q: %v", k, err)
			return nil
		}
		if !bytes.Equal(k, captureKey(c.CreatedNS, c.ID)) {
			bad("capture %q stored under key %x", c.ID, k)
		}
		ids[c.ID] = true
		if got := r.tx.Bucket(bCaptureIDs).Get([]byte(c.ID)); !bytes.Equal(got, k) {
			bad("capture %q: capture_ids entry %x, want %x", c.ID, got, k)
		}
		blob := r.tx.Bucket(bBlobs).Bucket([]byte(c.ID))
		if blob == nil {
			bad("capture %q has no blob", c.ID)
		} else {
			var n, chunks int64
			_ = blob.ForEach(func(_, v []byte) error { n += int64(len(v)); chunks++; return nil })
			if n != c.SizeBytes || chunks != c.Chunks {
				bad("capture %q: blob has %d bytes in %d chunks, record says %d in %d", c.ID, n, chunks, c.SizeBytes, c.Chunks)
			}
		}
		want[string(bIdxAgent)][string(idxKey(c.AgentID, k))] = true
		want[string(bIdxTrigger)][string(idxKey(c.Trigger, k))] = true
		want[string(bIdxStatus)][string(idxKey(c.Status, k))] = true
		for _, lk := range slices.Sorted(maps.Keys(c.Labels)) {
			if v := labelValue(lk, c.Labels[lk]); v != "" {
				want[string(bIdxLabel)][string(idxKey(v, k))] = true
			}
		}
		return nil
	})
	for name, keys := range want {
		got := map[string]bool{}
		_ = r.tx.Bucket([]byte(name)).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
		for k := range keys {
			if !got[k] {
				bad("%s lacks entry %q", name, k)
			}
		}
		for k := range got {
			if !keys[k] {
				bad("%s has stray entry %q", name, k)
			}
		}
	}
	_ = r.tx.Bucket(bCaptureIDs).ForEach(func(k, _ []byte) error {
		if !ids[string(k)] {
			bad("capture_ids entry %q has no capture", k)
		}
		return nil
	})
	_ = r.tx.Bucket(bBlobs).ForEach(func(k, _ []byte) error {
		if !ids[string(k)] {
			bad("blob %q has no capture", k)
		}
		return nil
	})
	_ = r.tx.Bucket(bReports).ForEach(func(k, _ []byte) error {
		if !ids[string(k)] {
			bad("report %q has no capture", k)
		}
		return nil
	})
	_ = r.tx.Bucket(bUploads).ForEach(func(k, v []byte) error {
		if ids[string(k)] {
			bad("upload %q is also committed", k)
		}
		sb := r.tx.Bucket(bStaging).Bucket(k)
		if sb == nil {
			bad("upload %q has no staging bucket", k)
			return nil
		}
		var u Upload
		if err := json.Unmarshal(v, &u); err != nil {
			bad("upload %q: %v", k, err)
			return nil
		}
		var n, chunks int64
		_ = sb.ForEach(func(_, v []byte) error { n += int64(len(v)); chunks++; return nil })
		if n != u.NextOffset || chunks != u.NextSeq {
			bad("upload %q: %d bytes in %d chunks staged, record says %d in %d", k, n, chunks, u.NextOffset, u.NextSeq)
		}
		return nil
	})
	_ = r.tx.Bucket(bStaging).ForEach(func(k, _ []byte) error {
		if r.tx.Bucket(bUploads).Get(k) == nil {
			bad("staging bucket %q has no upload", k)
		}
		return nil
	})
	return errs
}
