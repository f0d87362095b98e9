package export

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestFormatOf(t *testing.T) {
	tests := []struct {
		name string
		want Format
		err  error
	}{
		{"a.trace.json.gz", TraceJSONGz, nil},
		{"a.TRACE.JSON", TraceJSON, nil},
		{"perfetto_trace.json.gz", TraceJSONGz, nil},
		{"h.xplane.pb", XPlane, nil},
		{"c.fpcap", Fpcap, nil},
		{"c.txt", "", ErrUnknownFormat},
		{"c", "", ErrUnknownFormat},
	}
	for _, tt := range tests {
		got, err := FormatOf(tt.name)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("FormatOf(%q) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

// seedReplica returns the seed replica's XPlane, or skips.
func seedReplica(t *testing.T) string {
	t.Helper()
	return fixtures.Path(t, "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb")
}

// TestRoundTripEveryFormat reads the seed replica, trims it, writes every
// format, reads each back, and checks the kept events are the same to the
// picosecond with the same stats (as strings for JSON, which stores strings).
func TestRoundTripEveryFormat(t *testing.T) {
	ctx := context.Background()
	src := seedReplica(t)
	orig, err := load.File(ctx, src, load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := keptEvents(orig, false)
	if len(want) != 723 {
		t.Fatalf("kept %d events, want 723", len(want))
	}
	dir := t.TempDir()
	for _, name := range []string{"out.trace.json.gz", "out.trace.json", "out.xplane.pb", "out.fpcap"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			n, err := File(p, orig)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(p)
			if err != nil || st.Size() != n || st.Mode().Perm() != 0o644 {
				t.Fatalf("written file: %v, size %d (reported %d), mode %v", err, st.Size(), n, st.Mode())
			}
			back, err := load.File(ctx, p, load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			asStrings := name != "out.fpcap" && name != "out.xplane.pb"
			got := keptEvents(back, asStrings)
			w := want
			if asStrings {
				w = keptEvents(orig, true)
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("kept events after %s round trip (-want +got):\n%s", name, diff)
			}
			if len(back.Windows) != len(orig.Windows) {
				t.Errorf("windows %v, want %v", back.Windows, orig.Windows)
			}
		})
	}
}

type flatEvent struct {
	Plane, Line string
	Name        string
	StartAbsPS  [2]int64
	Dur         int64
	Stats       map[string]string
}

// keptEvents flattens kept events with absolute times, so captures with
// different base times compare.
func keptEvents(c *capture.Capture, statsAsStrings bool) []flatEvent {
	var out []flatEvent
	for _, p := range c.Planes {
		for _, l := range p.Lines {
			for _, e := range l.Events {
				us, ps := c.AbsPS(e.Start)
				st := map[string]string{}
				for _, s := range e.Stats {
					v := s.String()
					if !statsAsStrings {
						v = string(rune('0'+s.Kind)) + ":" + v
					}
					st[s.Name] = v
				}
				out = append(out, flatEvent{Plane: p.Name, Line: l.Name, Name: e.Name, StartAbsPS: [2]int64{us, ps}, Dur: e.Dur, Stats: st})
			}
		}
	}
	return out
}
