package filecmd

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

// memoryLimit is the soft heap limit of one fleetprof command unless
// GOMEMLIMIT says otherwise: trimming keeps only what it must, and a tight
// limit makes the collector of garbage keep the process small.
const memoryLimit = 100 << 20

// gcPercent is the command's GOGC unless the environment sets it: a
// command's heap is mostly what it keeps, and the memory limit above bounds
// it anyway, so collecting less often saves CPU (a trim of the seed
// replica's XSpace: ~20 % less) without a larger peak.
const gcPercent = 400

// cpuProfileEnv names a file to write the command's CPU profile to (for
// BENCHMARKS.md's measurements: go tool pprof bin/fleetprof FILE).
const cpuProfileEnv = "FLEETPROF_CPUPROFILE"

// Process runs main as a fleetprof process: with the command's memory limit
// and GOGC unless the environment sets them, its CPU profile when
// FLEETPROF_CPUPROFILE names a file, and a context that SIGINT and SIGTERM
// cancel. It returns main's exit code.
func Process(main func(ctx context.Context) int) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if p := os.Getenv(cpuProfileEnv); p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			os.Stderr.WriteString("fleetprof: " + cpuProfileEnv + ": " + err.Error() + "\n")
			return ExitError
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return main(ctx)
}
