// Package bolttest helps tests that damage a bbolt database on purpose
// (the collector's store check, its start-up refusal, the e2e runs): how
// much of the file the database's pages use, so that a truncation cuts
// into them. bbolt grows its file in steps (16 MiB once the map is large),
// so a cut in the unused tail loses nothing and is rightly found sound.
package bolttest

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UsedBytes returns how many bytes of the closed bbolt file at path its
// pages use (the high-water mark of its last transaction). It fails the
// test if the file does not open within 10 s.
func UsedBytes(t testing.TB, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("bolttest: open %s: %v", path, err)
	}
	defer db.Close()
	var n int64
	if err := db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		t.Fatalf("bolttest: read %s: %v", path, err)
	}
	return n
}
