//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

// execCLI replaces this process with fleetprof-cli: its exit code, signals
// and standard streams are then the command's own.
func execCLI(path string, args []string) int {
	err := syscall.Exec(path, append([]string{path}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "fleetprof: run %s: %v\n", path, err)
	return filecmd.ExitError
}
