// Package storetest opens stores for tests, as bbolt's btesting does: in
// the test's own folder, without fsync, and checked for consistency when the
// test ends.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/store"
)

// Open opens an empty store in a fresh folder of t's. When the test ends,
// after the cleanups registered later have run, the store is checked (a
// damaged one fails the test) and closed.
func Open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(context.Background()); err != nil {
			t.Errorf("store check: %v", err)
		}
		db.Close()
	})
	return db
}
