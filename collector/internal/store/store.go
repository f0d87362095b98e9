package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors.
var (
	// ErrNotFound means no capture, agent, upload or report has that id.
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a capture with that id is already committed.
	ErrExists = errors.New("store: capture already committed")
	// ErrBadID means an id is not 1–128 bytes of [A-Za-z0-9._-] or is "." or "..".
	ErrBadID = errors.New("store: bad id: use 1-128 characters of A-Z a-z 0-9 . _ - with no \"..\"")
	// ErrNewerSchema means the file was written by a newer collector.
	ErrNewerSchema = errors.New("store: database schema is newer than this collector: upgrade the collector")
	// ErrCorrupt means a record or the file's structure is inconsistent.
	ErrCorrupt = errors.New("store: database inconsistent")
	// ErrClosed means the store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrSequence means a staged chunk does not follow the one before it.
	ErrSequence = errors.New("store: chunk out of sequence")
	// ErrLocked means another process (a running collector) holds the file.
	ErrLocked = errors.New("store: the database is in use by another process (a running collector?)")
)

// FileName is the bbolt file's name in the data folder.
const FileName = "fleetprof.db"

// Options tune Open. The zero value works.
type Options struct {
	// Timeout bounds waiting for the file lock (another collector on the same
	// folder). Zero means 5 s.
	Timeout time.Duration
	// NoSync skips fsync after commits: for tests and benchmarks only.
	NoSync bool
	// MaxGroup bounds how many Group calls share one transaction. Zero means 128.
	MaxGroup int
	// MmapBytes is the address space mapped for the file at first (bbolt's
	// InitialMmapSize; the file itself grows as it needs). Until the file
	// outgrows it, a commit never remaps the file, which copies every dirty
	// page's keys and values (a group of staged chunks: tens of MB) and
	// waits for every open read transaction. Zero means 1 GiB; negative
	// means bbolt's default (a small map that doubles).
	MmapBytes int
	// Logger receives the store's log. Nil discards it.
	Logger *slog.Logger
}

// DB is an open store.
type DB struct {
	bolt *bolt.DB
	log  *slog.Logger

	maxGroup int
	group    chan *call
	closing  chan struct{}
	loopDone chan struct{}
	closeMu  sync.Mutex
	closed   bool
}

// call is one Group call waiting for its transaction.
type call struct {
	fn   func(*Writer) error
	done chan error
}

// Open opens or creates the store at path (a file; see FileName), migrating
// its schema to the current version.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 128
	}
	if opts.MmapBytes == 0 {
		opts.MmapBytes = 1 << 30
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.Timeout, NoSync: opts.NoSync, FreelistType: bolt.FreelistMapType,
		InitialMmapSize: max(opts.MmapBytes, 0),
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{
		bolt:     bdb,
		log:      log.With("component", "store"),
		maxGroup: opts.MaxGroup,
		group:    make(chan *call),
		closing:  make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	if err := migrate(bdb, db.log); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	go db.groupLoop()
	return db, nil
}

// Path returns the file's path.
func (db *DB) Path() string { return db.bolt.Path() }

// Close waits for pending Group calls and closes the file.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.closing)
	db.closeMu.Unlock()
	<-db.loopDone
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// View runs fn in a read-only transaction. fn must not keep the Reader or
// byte slices it returns past its return.
func (db *DB) View(ctx context.Context, fn func(*Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(tx *bolt.Tx) error { return fn(&Reader{tx: tx}) })
}

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (db *DB) Update(ctx context.Context, fn func(*Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error { return fn(newWriter(tx)) })
}

// Group runs fn in a read-write transaction shared with other Group calls
// waiting at the same moment: one commit (one fsync) for all of them. Unlike
// bbolt's Batch it never waits for company: a lone call commits at once. If
// fn fails, its transaction is rolled back and the others are retried
// without it, so fn may run more than once and must be idempotent.
func (db *DB) Group(ctx context.Context, fn func(*Writer) error) error {
	c := &call{fn: fn, done: make(chan error, 1)}
	select {
	case db.group <- c:
	case <-db.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-c.done // bounded by one transaction; waited for even if ctx ends
}

// groupLoop runs Group calls in shared transactions until Close.
func (db *DB) groupLoop() {
	defer close(db.loopDone)
	for {
		var batch []*call
		select {
		case c := <-db.group:
			batch = append(batch, c)
		case <-db.closing:
			return
		}
	more:
		for len(batch) < db.maxGroup {
			select {
			case c := <-db.group:
				batch = append(batch, c)
			default:
				break more
			}
		}
		db.runGroup(batch)
	}
}

// runGroup commits batch in one transaction, dropping calls that fail.
func (db *DB) runGroup(batch []*call) {
	for len(batch) > 0 {
		failed := -1
		var failErr error
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			w := newWriter(tx)
			for i, c := range batch {
				if err := c.fn(w); err != nil {
					failed, failErr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range batch {
				c.done <- err
			}
			return
		}
		batch[failed].done <- failErr
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}

// Backup writes a consistent copy of the whole database to w (tx.WriteTo),
// while the store keeps serving. It returns the bytes written.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := db.View(ctx, func(r *Reader) error {
		var err error
		n, err = r.tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup store: %w", err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the database to path, atomically.
func (db *DB) BackupFile(ctx context.Context, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".backup-*")
	if err != nil {
		return fmt.Errorf("backup store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := db.Backup(ctx, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("backup store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup store: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("backup store: %w", err)
	}
	return nil
}

// Reader reads inside a transaction.
type Reader struct {
	tx *bolt.Tx
}

// Writer reads and writes inside a read-write transaction.
type Writer struct {
	Reader
	// staged names the uploads whose chunks this transaction changed:
	// bbolt's MoveBucket would lose those changes, so Commit copies them.
	staged map[string]bool
}

// newWriter returns a Writer for tx.
func newWriter(tx *bolt.Tx) *Writer { return &Writer{Reader: Reader{tx: tx}} }
