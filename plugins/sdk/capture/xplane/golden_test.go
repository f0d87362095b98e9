package xplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/plugins/capture/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// dump describes a file for people: its planes and lines with their counts,
// and the first two and the last event of each line, loaded.
func dump(t *testing.T, f *File) string {
	t.Helper()
	r, evs := capturetest.WalkLoad(t, f)
	var b strings.Builder
	fmt.Fprintf(&b, "base_ns %d\nhostnames %q\nerrors %q\nwarnings %q\n", r.BaseNS, f.Hostnames(), f.Errors(), f.Warnings())
	type lineKey struct{ plane, line int }
	byLine := map[lineKey][]int{}
	for i, e := range r.Events {
		k := lineKey{e.Plane, e.Line}
		byLine[k] = append(byLine[k], i)
	}
	planes := f.Planes()
	for pi, p := range r.Planes {
		fp := planes[pi]
		fmt.Fprintf(&b, "plane %d id=%d %q lines=%d event_metadata=%d stat_metadata=%d\n",
			pi, p.ID, p.Name, fp.Lines, fp.EventMetadata, fp.StatMetadata)
		dumpStats(&b, "  ", p.Stats)
		for li, l := range r.Lines[pi] {
			idx := byLine[lineKey{pi, li}]
			fmt.Fprintf(&b, "  line %d id=%d display_id=%d %q display_name=%q events=%d\n",
				li, l.ID, l.DisplayID, l.Name, l.DisplayName, len(idx))
			for j, i := range idx {
				if j >= 2 && j != len(idx)-1 {
					continue
				}
				e := evs[i]
				fmt.Fprintf(&b, "    event %d start=%d.%03dns dur=%dps %q display=%q ref=%d+%d\n",
					j, e.StartNS, e.StartPS, e.Dur, e.Name, e.DisplayName, r.Events[i].Ref.Off, r.Events[i].Ref.Len)
				dumpStats(&b, "      ", e.Stats)
			}
		}
	}
	return b.String()
}

func dumpStats(b *strings.Builder, indent string, stats []capture.Stat) {
	kinds := [...]string{"str", "int", "uint", "double", "bytes"}
	for _, s := range stats {
		fmt.Fprintf(b, "%sstat %s %s=%q\n", indent, kinds[s.Kind], s.Name, s.String())
	}
}

// TestGolden compares a dump of each small fixture with testdata/*.golden;
// -update rewrites them.
func TestGolden(t *testing.T) {
	for _, fx := range []fixture{captures[0], captures[2]} {
		t.Run(fx.name, func(t *testing.T) {
			got := dump(t, openFile(t, fx.path(t)))
			path := filepath.Join("testdata", fx.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("dump of %s (-%s +got):\n%s", fx.file, path, diff)
			}
		})
	}
}
