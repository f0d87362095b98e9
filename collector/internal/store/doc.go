// Package store keeps the collector's state in one bbolt file: agents,
// captures and their .fpcap bytes, reports, upload staging and the indexes
// behind the capture list's filters. It is the only package that imports
// bbolt; everything else sees a small domain API with callback transactions
// (DB.View, DB.Update).
//
// # Schema (version 6)
//
// Every key that sorts by time starts with the time as 8 bytes big-endian
// (uint64 nanoseconds since the epoch), so a cursor walks it in time order.
// Capture ids are 1–128 bytes of [A-Za-z0-9._-] (see ValidID), so a 0x00
// byte can separate an id or an index value from what follows it.
//
//	meta                      "version" → uint32 big-endian schema version
//	agents                    agent id → Agent (JSON)
//	captures                  ckey = time(8) + capture id → Capture (JSON), the
//	                          record and its summary; FillPercent 1.0 (append-only)
//	capture_ids               capture id → ckey
//	blobs/<capture id>/       seq(8) → .fpcap bytes of chunk seq; FillPercent 1.0
//	reports                   capture id → Report (JSON)
//	uploads                   capture id → Upload (JSON): a staged, uncommitted upload
//	staging/<capture id>/     seq(8) → bytes of a staged chunk; FillPercent 1.0
//	commands                  capture id → Command (JSON): what the collector asked
//	                          an agent to capture, merged into the record on commit
//	idx_agent                 agent id + 0x00 + ckey → empty
//	idx_label                 key=value + 0x00 + ckey → empty
//	idx_trigger               trigger + 0x00 + ckey → empty
//	idx_status                status + 0x00 + ckey → empty   (since version 2)
//	schedules                 schedule id → Schedule (JSON)  (since version 3)
//	tokens                    sha256(token) → Token (JSON)   (since version 4); the
//	                          token itself is never stored
//	summaries                 ckey → a capture's insight summary (binary,
//	                          insight.Summary.AppendBinary; written by the watch
//	                          package once its report is stored)
//	                          (since version 5)
//	summary_fleet             fleet id + 0x00 + ckey → empty (since version 5)
//	changes                   ckey + 0x00 + i(4) → the i-th change of the capture
//	                          against its baseline (JSON) (since version 5)
//	baselines                 agent id + 0x00 + options key → a pinned baseline
//	                          (JSON) (since version 5)
//	experiments               time(8) + experiment id → Experiment (JSON): its spec,
//	                          cells and their captures (since version 6)
//	experiment_ids            experiment id → its key in experiments (since version 6)
//
// A capture is visible (in captures and the indexes) only once Commit has
// run: Commit moves the staged chunks under blobs with MoveBucket and writes
// the record and every index entry in the same transaction, so a crash
// leaves either a staged upload (resumed by the agent) or a whole capture,
// never half of one.
//
// # Migrations
//
// Open reads meta/version and runs each migration above it in its own
// transaction: 0→1 creates the buckets, 1→2 builds idx_status from the
// records, 2→3 creates schedules, 3→4 creates tokens, 4→5 creates the
// insight buckets (summaries of captures analyzed before are filled in by
// the watch package's backfill), 5→6 creates the experiment buckets. A file from a newer collector is refused
// (ErrNewerSchema).
//
// # Backups
//
// DB.Backup writes a consistent copy of the live file with tx.WriteTo.
// Each capture's GCS backup status is in its record (Capture.BackupStatus:
// BackupPending, BackupDone or BackupFailedPrefix + reason), so pending
// backups survive restarts and retention can tell which captures exist
// only here (BackupUnsettled). Reader.Walk visits the captures oldest first
// and Writer.DeleteCaptures deletes a batch of them in one transaction.
package store
