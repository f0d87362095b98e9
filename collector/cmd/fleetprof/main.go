// Command fleetprof is fleetprof's command-line interface: offline commands
// on capture files (inspect, trim, analyze) and, with --collector, the
// fleet's.
//
// This binary holds only inspect and trim, which read capture files on
// their own, so that they start in milliseconds; every other command line
// runs fleetprof-cli, the whole CLI, found beside this binary or on PATH
// (BENCHMARKS.md, "A lighter fleetprof").
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
)

// cliName is the binary that runs every command but inspect and trim.
const cliName = "fleetprof-cli"

func main() {
	args := os.Args[1:]
	if !filecmd.Handles(args) {
		os.Exit(runCLI(args))
	}
	os.Exit(filecmd.Process(func(ctx context.Context) int {
		return filecmd.Main(ctx, args, os.Stdout, os.Stderr, nil)
	}))
}

// runCLI runs fleetprof-cli with args in place of this process (where the
// system allows; otherwise as a child whose exit code it returns).
func runCLI(args []string) int {
	path, err := cliPath()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fleetprof: %v\n", err)
		return filecmd.ExitError
	}
	return execCLI(path, args)
}

// errNoCLI means fleetprof-cli is neither beside this binary nor on PATH.
var errNoCLI = errors.New(cliName + " not found")

// cliPath finds fleetprof-cli: beside this binary (symbolic links
// followed), else on PATH.
func cliPath() (string, error) {
	exe, err := os.Executable()
	if err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), cliName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(cliName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w beside %s nor on PATH: fleetprof runs inspect and trim itself and every other command through %s; install both (make build puts them in bin/)", errNoCLI, exe, cliName)
}
