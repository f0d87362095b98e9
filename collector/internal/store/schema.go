package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/fleetprof/fleetprof/proto/fleetprof/ids"
)

// SchemaVersion is the schema this package writes (see the package doc).
const SchemaVersion = 6

// Bucket names.
var (
	bMeta       = []byte("meta")
	bAgents     = []byte("agents")
	bCaptures   = []byte("captures")
	bCaptureIDs = []byte("capture_ids")
	bBlobs      = []byte("blobs")
	bReports    = []byte("reports")
	bUploads    = []byte("uploads")
	bStaging    = []byte("staging")
	bCommands   = []byte("commands")
	bIdxAgent   = []byte("idx_agent")
	bIdxLabel   = []byte("idx_label")
	bIdxTrigger = []byte("idx_trigger")
	bIdxStatus  = []byte("idx_status")
	bSchedules  = []byte("schedules")
	bTokens     = []byte("tokens")

	keyVersion = []byte("version")
)

// v1Buckets are the buckets of schema version 1.
var v1Buckets = [][]byte{bMeta, bAgents, bCaptures, bCaptureIDs, bBlobs, bReports, bUploads, bStaging, bCommands, bIdxAgent, bIdxLabel, bIdxTrigger}

// migrations[i] brings a file from version i to version i+1.
var migrations = []func(tx *bolt.Tx) error{
	// 0 → 1: the buckets.
	func(tx *bolt.Tx) error {
		for _, name := range v1Buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	},
	// 1 → 2: the status index, built from the records.
	func(tx *bolt.Tx) error {
		idx, err := tx.CreateBucketIfNotExists(bIdxStatus)
		if err != nil {
			return err
		}
		return tx.Bucket(bCaptures).ForEach(func(k, v []byte) error {
			var c Capture
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("%w: capture %x: %v", ErrCorrupt, k, err)
			}
			return idx.Put(idxKey(c.Status, k), nil)
		})
	},
	// 2 → 3: capture schedules.
	func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bSchedules)
		return err
	},
	// 3 → 4: API tokens.
	func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bTokens)
		return err
	},
	// 4 → 5: insight summaries, their fleet index, changes against
	// baselines and pinned baselines; the collector's watch package fills
	// in the summaries of captures analyzed before (a backfill at start).
	func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bSummaries, bSummaryFleet, bChanges, bBaselines} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	},
	// 5 → 6: experiments and their id entries.
	func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bExperiments, bExperimentIDs} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	},
}

// SetVersionForTest creates the buckets of schema version v (≤ the current
// one) in an empty file at path and stamps it v, so tests can check the
// migrations from it. It is not for production use.
func SetVersionForTest(path string, v int) error {
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.Update(func(tx *bolt.Tx) error {
		for i := 0; i < v; i++ {
			if err := migrations[i](tx); err != nil {
				return err
			}
		}
		if v == 0 {
			return nil
		}
		return tx.Bucket(bMeta).Put(keyVersion, u32(uint32(v)))
	})
}

// PutRawCaptureForTest writes a capture record and nothing else (no index,
// no blob), as an old collector would have; for migration tests.
func PutRawCaptureForTest(path string, c *Capture) error {
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.Update(func(tx *bolt.Tx) error {
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		k := captureKey(c.CreatedNS, c.ID)
		if err := tx.Bucket(bCaptures).Put(k, v); err != nil {
			return err
		}
		return tx.Bucket(bCaptureIDs).Put([]byte(c.ID), k)
	})
}

// migrate brings the file to SchemaVersion, one transaction per step.
func migrate(bdb *bolt.DB, log *slog.Logger) error {
	var v uint32
	err := bdb.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bMeta); m != nil {
			if b := m.Get(keyVersion); len(b) == 4 {
				v = binary.BigEndian.Uint32(b)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("%w (file: version %d, collector: version %d)", ErrNewerSchema, v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		err := bdb.Update(func(tx *bolt.Tx) error {
			if err := migrations[v](tx); err != nil {
				return err
			}
			return tx.Bucket(bMeta).Put(keyVersion, u32(v+1))
		})
		if err != nil {
			return fmt.Errorf("migrate store from version %d to %d: %w", v, v+1, err)
		}
		log.Info("store migrated", "from", v, "to", v+1)
	}
	return nil
}

// Version returns the file's schema version.
func (r *Reader) Version() int {
	b := r.tx.Bucket(bMeta).Get(keyVersion)
	if len(b) != 4 {
		return 0
	}
	return int(binary.BigEndian.Uint32(b))
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// captureKey is a capture's key in the captures bucket: its commit time as 8
// bytes big-endian, then its id.
func captureKey(ns int64, id string) []byte {
	return append(u64(uint64(ns)), id...)
}

// keyTime returns the time of a captures key.
func keyTime(k []byte) int64 {
	if len(k) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(k))
}

// keyID returns the id of a captures key.
func keyID(k []byte) string {
	if len(k) < 8 {
		return ""
	}
	return string(k[8:])
}

// idxKey is an index entry: the value, 0x00, the captures key.
func idxKey(value string, ckey []byte) []byte {
	k := make([]byte, 0, len(value)+1+len(ckey))
	k = append(k, value...)
	k = append(k, 0)
	return append(k, ckey...)
}

// idxPrefix is the prefix of every entry of value in an index.
func idxPrefix(value string) []byte { return append([]byte(value), 0) }

// labelValue is a label's entry value in idx_label, or "" when the label
// cannot be indexed (it holds a 0x00 byte or its key holds '=').
func labelValue(k, v string) string {
	if k == "" || bytes.IndexByte([]byte(k), '=') >= 0 || bytes.IndexByte([]byte(k), 0) >= 0 || bytes.IndexByte([]byte(v), 0) >= 0 {
		return ""
	}
	return k + "=" + v
}

// ValidID reports whether id can name a capture, a fleet capture or a
// schedule: ids.Valid, the rule shared with the agent's spool and the GCS
// backup, so no id reaches a key, a file or an object name that could
// escape its folder.
func ValidID(id string) bool { return ids.Valid(id) }
