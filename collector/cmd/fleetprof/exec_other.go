//go:build !unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

// execCLI runs fleetprof-cli as a child with this process's streams and
// returns its exit code.
func execCLI(path string, args []string) int {
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return filecmd.ExitOK
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "fleetprof: run %s: %v\n", path, err)
	return filecmd.ExitError
}
