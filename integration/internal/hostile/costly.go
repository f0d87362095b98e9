package hostile

import (
	"fmt"
	"os"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
)

// TerminalText is text an agent controls, built to drive a terminal: clear
// the screen, set the window title, a C1 CSI erasing the line, a bidi
// override, and a newline that forges a table row (issue 13, finding 7).
const TerminalText = "evil\x1b[2J\x1b]0;pwned\x07\u009b2K\u202eoops\nforged-row"

// EmptyEvents returns a well-formed .fpcap of about size bytes whose events
// are all empty, and its SHA-256: capturetest.EmptyEvents, for the soak run.
func EmptyEvents(size int) (data, sum []byte) { return capturetest.EmptyEvents(size) }

// PeakRSS returns the peak resident memory (VmHWM) of process pid, in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("hostile: peak RSS: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err != nil {
				return 0, fmt.Errorf("hostile: peak RSS: %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("hostile: peak RSS: no VmHWM in /proc/%d/status", pid)
}
