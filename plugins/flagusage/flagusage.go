// Package flagusage prints a standard library flag set's flags the way the
// README, the docs and every example write them: --flag, not -flag (the flag
// package accepts both). The daemons and tools built on package flag
// (fleetprof-collector, fleetprof-agent, fleetprof-simserver,
// fleetprof-gcsemu, fleetprof-gen) share it, so that every --help reads
// alike. It is not part of the plugin SDK.
package flagusage

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// NewFlagSet returns a flag set named name that returns its parse errors
// (flag.ContinueOnError) and writes to w; its usage is the text usage, as
// given, followed by the flags as PrintDefaults writes them.
func NewFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprint(w, usage)
		PrintDefaults(w, fs)
	}
	return fs
}

// PrintDefaults writes what fs.PrintDefaults writes, to w, with each flag
// of more than one letter spelled --flag; one-letter flags such as -o keep
// one dash. fs's own output is left as it was.
func PrintDefaults(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	out := fs.Output()
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	for line := range strings.Lines(b.String()) {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			if f := strings.Fields(name); len(f) > 0 && len(f[0]) > 1 {
				line = "  --" + name
			}
		}
		fmt.Fprint(w, line)
	}
}
