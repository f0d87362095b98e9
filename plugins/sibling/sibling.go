// Package sibling finds the fleetprof binaries that run one another: the
// agent runs fleetprof for a capture's report, and fleetprof runs
// fleetprof-cli for every command but inspect and trim.
package sibling

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotFound means the binary is neither beside the running one nor on
// PATH.
var ErrNotFound = errors.New("not found")

// Find returns the path of the binary name beside the running executable —
// in its folder as started, then in the folder its symbolic links lead to —
// else on PATH.
func Find(name string) (string, error) {
	exe, err := os.Executable()
	if err == nil {
		dirs := []string{filepath.Dir(exe)}
		if real, err := filepath.EvalSymlinks(exe); err == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s %w beside %s nor on PATH", name, ErrNotFound, exe)
}
