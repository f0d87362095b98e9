package cli

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/fleetprof/fleetprof/collector/internal/filecmd"
	"github.com/fleetprof/fleetprof/plugins/numfmt"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestDiffNumbers: counts print as integers, times in µs to the
// nanosecond, and no change prints as 0, never -0.000 -0.0%.
func TestDiffNumbers(t *testing.T) {
	rows := []*collectorv1.DiffRow{
		{Key: "device_op_events", Label: "count", A: 1240, B: 1240, Delta: 0, DeltaPct: 0},
		{Key: "device_busy_us", Label: "us", A: 3030.2025, B: 3030.2025, Delta: -1e-9, DeltaPct: -1e-9},
		{Key: "windows", Label: "count", A: 2, B: 3, Delta: 1, DeltaPct: 50},
	}
	var b strings.Builder
	if err := printDiffTable(&b, "Summary", "METRIC", "UNIT", rows, 0); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{"1,240", "3,030.202", "+1", "+50.0%", "0.0%"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff table lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"1240.000", "-0.000", "-0.0%", " us "} {
		if strings.Contains(got, bad) {
			t.Errorf("diff table has %q:\n%s", bad, got)
		}
	}
}

// TestMicrosMatchReport: the CLI's µs from integer picoseconds print the
// same digits as the report's from the float64 in its JSON.
func TestMicrosMatchReport(t *testing.T) {
	for _, ps := range []int64{3_030_202_500, 3_030_203_499, 1_515_101_250} {
		cli := filecmd.GroupMicros(capture.MicrosOf(ps))
		report := numfmt.MicrosValue(float64(ps) / 1e6) // as report.cell formats a µs column
		if cli != report {
			t.Errorf("%d ps: CLI %q, report %q", ps, cli, report)
		}
	}
}

func TestWroteFiles(t *testing.T) {
	for n, want := range map[int]string{1: "wrote r/report.md", 2: "wrote r/report.md and 1 more file", 7: "wrote r/report.md and 6 more files"} {
		if got := filecmd.WroteFiles("r/report.md", n); got != want {
			t.Errorf("wroteFiles(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestExampleIDs: the capture ids in the commands' examples look like the
// ids the collector gives (f-YYYYMMDD-HHMMSS-xxxxxxxx.agent; x- for
// experiments).
func TestExampleIDs(t *testing.T) {
	idLike := regexp.MustCompile(`^[fx]-\d{8}-\d{6}-[0-9a-f]{8}(\.[a-z0-9-]+)?$`)
	dated := regexp.MustCompile(`\d{8}`)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, w := range strings.Fields(c.Example) {
			// A word with a date in it that is not a path or a flag is an id.
			if dated.MatchString(w) && !strings.ContainsAny(w, "/=") && !strings.HasPrefix(w, "-") && !idLike.MatchString(w) {
				t.Errorf("%s example: %q does not look like a capture id", c.CommandPath(), w)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&env{Stdout: io.Discard, Stderr: io.Discard}))
}
