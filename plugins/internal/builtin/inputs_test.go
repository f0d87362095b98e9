package builtin_test

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/integration/golden"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/builtintest"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/categories"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/components"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/hostevents"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/idle"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/optypes"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/roofline"
	"github.com/fleetprof/fleetprof/plugins/internal/builtin/topops"
	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

var update = flag.Bool("update", false, "rewrite the report package's input fixtures")

// All are the built-in analyzers in report order.
var all = []sdk.Analyzer{topops.Analyzer{}, optypes.Analyzer{}, categories.Analyzer{}, components.Analyzer{}, roofline.Analyzer{}, idle.Analyzer{}, hostevents.Analyzer{}}

// TestReportInputs keeps the report package's input fixtures
// (collector/internal/report/testdata/*.input.json: a capture summary and the
// built-in sections) equal to what the analyzers make of the fixtures. The
// report package cannot import the analyzers (they are internal to plugins/),
// so its golden tests start from these files. Run with -update after changing
// an analyzer.
func TestReportInputs(t *testing.T) {
	// The seed replica's report is compared with the seed's own: it is
	// analyzed with the seed's rules (fleetprof analyze --rules seed).
	for _, tc := range []struct {
		fixture, out string
		opts         map[string]string
	}{
		{"tiny/xplane", "tiny.input.json", nil},
		{"seed-replica/xplane", "seed-replica.input.json", map[string]string{components.RulesOption: bucket.SeedSet}},
	} {
		t.Run(tc.out, func(t *testing.T) {
			c := Load(t, FixtureNamed(t, tc.fixture))
			in := struct {
				Summary  capture.Summary `json:"summary"`
				Sections []*sdk.Section  `json:"sections"`
			}{Summary: capture.Summarize(c)}
			for _, a := range all {
				in.Sections = append(in.Sections, builtintest.Run(t, a, c, tc.opts))
			}
			got, err := json.MarshalIndent(in, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(fixtures.Root(t), "collector", "internal", "report", "testdata", tc.out)
			golden.Check(t, path, got, *update)
			if t.Failed() {
				t.Logf("then update the report goldens (go test ./collector/internal/report -update)")
			}
		})
	}
}
