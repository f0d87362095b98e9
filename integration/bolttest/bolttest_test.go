package bolttest

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestUsedBytes: a database with data reports its pages in use, fewer
// than the file holds once bbolt grew it, and a multiple of the page size.
func TestUsedBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{InitialMmapSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), make([]byte, 100<<10))
	})
	if err != nil {
		t.Fatal(err)
	}
	ps := int64(db.Info().PageSize)
	db.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	n := UsedBytes(t, path)
	if n < 100<<10 || n%ps != 0 || n > st.Size() {
		t.Errorf("UsedBytes = %d (page %d), file %d bytes; want at least the 100 KiB value, whole pages, within the file", n, ps, st.Size())
	}
	if n >= st.Size() {
		t.Logf("the file is no longer than its pages here (%d bytes)", st.Size())
	}
}
