// Package golden compares a test's output with a golden file under the
// package's testdata/, or rewrites the file when the test runs with the
// package's -update flag (pprof's way). Each package declares its own flag,
// as some use -update for more than golden files:
//
//	var update = flag.Bool("update", false, "rewrite the golden files under testdata/")
//
//	golden.Check(t, filepath.Join("testdata", "x.txt"), got, *update)
package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Check fails the test unless got equals the contents of the file at path.
// With update set it writes got to path instead (making its folder).
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from its golden file (-want +got; go test -update rewrites it):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
