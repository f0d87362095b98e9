package analysis

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// cpuTime is the CPU time this process (not its children, the plugins)
// used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze analyzes a stored capture of about 1 MB with no plugins
// and with three plugin processes (the test plugin's "good" mode), the way
// the collector does, and reports the collector's own CPU time per capture (the plugins'
// is theirs): "stored" is a capture committed with its tally (the stored
// records go to the plugins as they are), "decoded" one committed without
// (decoded, checked, summarized and encoded again for each plugin, as every
// capture was before).
func BenchmarkAnalyze(b *testing.B) {
	var ops []capturetest.Op
	for i := 0; i < 14000; i++ {
		ops = append(ops, capturetest.Op{TFOp: fmt.Sprintf("jit(run)/layer%d/mlp/dot_general:dot_general", i%64), Start: int64(i) * 2 * capture.Microsecond, Dur: 2 * capture.Microsecond})
	}
	data, _ := capturetest.Fpcap(capturetest.Capture(1_770_000_000_000_000_000, ops...))
	db, err := store.Open(filepath.Join(b.TempDir(), store.FileName), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	commitTallied(b, db, "stored", data)
	commitData(b, db, "decoded", data, nil, nil) // as stored before tallies
	for _, n := range []int{0, 3} {
		a := New(Config{Store: db, Plugins: plugins(b, []string{"good", "p2", "p3"}[:n]...)})
		for _, id := range []string{"stored", "decoded"} {
			b.Run(fmt.Sprintf("plugins=%d/%s", n, id), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				ctx := context.Background()
				cpu := cpuTime()
				for b.Loop() {
					r, err := a.Analyze(ctx, id, nil, nil, false)
					if err != nil || len(r.Sections) != n || (n > 0 && r.Sections[0].Error != "") {
						b.Fatalf("Analyze: %v %+v", err, r)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/capture")
				b.ReportMetric(float64(len(data))/(1<<20), "MiB/capture")
			})
		}
	}
}
