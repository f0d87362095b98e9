package transport

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddrFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "addrs.json")
	if _, err := ReadAddrFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAddrFile before the write = %v, want fs.ErrNotExist", err)
	}
	for _, want := range []map[string]string{
		{"grpc": "127.0.0.1:41233", "http": "127.0.0.1:41234"},
		{"http": "[::1]:80"}, // a second write replaces the first
	} {
		if err := WriteAddrFile(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := ReadAddrFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReadAddrFile after WriteAddrFile(%v) (-want +got):\n%s", want, diff)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("the folder holds %d files, want only the address file (no temporary left)", len(ents))
	}
	if err := WriteAddrFile(filepath.Join(t.TempDir(), "no", "such", "dir"), nil); err == nil {
		t.Error("WriteAddrFile into a missing folder succeeded")
	}
}
