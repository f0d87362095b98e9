package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Errors of CheckFile.
var (
	// ErrEmptyFile means the database file exists but holds no byte: it was
	// cut or never written. bbolt would start it as a new, empty database.
	ErrEmptyFile = errors.New("store: the database file is empty (0 bytes)")
	// ErrCheckTimeout means the consistency check did not finish in the
	// time it was given.
	ErrCheckTimeout = errors.New("store: the consistency check did not finish in time")
)

// CheckFile checks the database file at path without changing it, before
// a collector serves it: that it exists (an error wrapping os.ErrNotExist
// otherwise) and holds bytes (ErrEmptyFile), that it is as long as its
// meta page says (a truncated file fails with ErrCorrupt at once), then
// bbolt's consistency check and the schema's (see Check). A damaged file
// fails with ErrCorrupt naming what is wrong, a file held by a running
// collector with ErrLocked, and a check still running when ctx ends with
// ErrCheckTimeout (the check then finishes in the background and releases
// the file). opts.Timeout bounds the wait for the file lock.
func CheckFile(ctx context.Context, path string, opts Options) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check store %s: %w", path, err)
	}
	if st.Size() == 0 {
		return fmt.Errorf("check store %s: %w", path, ErrEmptyFile)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: opts.Timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("check store %s: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("check store %s: %w: %w", path, ErrCorrupt, err)
	case err != nil:
		return fmt.Errorf("check store %s: %w: %w", path, ErrCorrupt, err)
	}
	done := make(chan error, 1)
	go func() { // owned by the file: it closes it when the check ends, even past ctx
		err := check(bdb, st.Size())
		if cerr := bdb.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("check store %s: %w", path, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("check store %s (%d MiB): %w", path, st.Size()>>20, ErrCheckTimeout)
	}
}

// check runs the checks on a read-only bbolt file of size bytes.
func check(bdb *bolt.DB, size int64) (err error) {
	// A damaged page makes bbolt panic (an assertion) and a page past the
	// end of the file fault; both are reported, never let through.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading it failed: %v", ErrCorrupt, r)
		}
	}()
	return bdb.View(func(tx *bolt.Tx) error {
		if need := tx.Size(); size < need {
			return fmt.Errorf("%w: the file has %d bytes, its pages need %d: it was truncated", ErrCorrupt, size, need)
		}
		var errs []error
		more := 0
		for err := range tx.Check() { // drained: the check's goroutine ends with it
			if len(errs) < 20 {
				errs = append(errs, err)
			} else {
				more++
			}
		}
		if more > 0 {
			errs = append(errs, fmt.Errorf("and %d more problems", more))
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
		}
		r := &Reader{tx: tx}
		if v := r.Version(); v > SchemaVersion {
			return fmt.Errorf("%w (schema %d, this collector knows %d)", ErrNewerSchema, v, SchemaVersion)
		} else if v < SchemaVersion {
			return nil // older: the schema is checked after its migration, at Open
		}
		errs = append(r.checkSchema(), r.checkSchedules()...)
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
		}
		return nil
	})
}

// InUse reports whether a running process (a collector) holds the database
// file at path, without reading more of it than its meta pages: safe on a
// damaged file. timeout bounds the wait for the lock.
func InUse(path string, timeout time.Duration) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		return false, err
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return true, nil
	}
	if err != nil {
		return false, nil // locked and read, but damaged: nobody serves it
	}
	return false, bdb.Close()
}
