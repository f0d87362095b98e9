package server

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/fleetprof/fleetprof/collector/internal/selector"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// benchCapture is an .fpcap of about size bytes.
func benchCapture(size int) ([]byte, []byte) {
	var ops []capturetest.Op
	us := capture.Microsecond
	for i := 0; ; i++ {
		ops = append(ops, capturetest.Op{TFOp: fmt.Sprintf("jit(run)/layer%d/mlp/dot_general:dot_general", i%64), Start: int64(i) * 2 * us, Dur: 2 * us}) // touching: one window
		if i%1000 == 999 {
			data, sum := capturetest.Fpcap(capturetest.Capture(1_770_000_000_000_000_000, ops...))
			if len(data) >= size {
				return data, sum
			}
		}
	}
}

// BenchmarkIngest uploads 50 captures of about 1 MB at once, with fsync, and
// reports the time from each upload's UploadEnd to its commit (p50, p99)
// and captures per second. Analysis is off (no plugins).
func BenchmarkIngest(b *testing.B) {
	const concurrent = 50
	data, sum := benchCapture(1 << 20)
	srv := runServer(b, Config{Listen: "127.0.0.1:0", HTTP: "-", DataDir: b.TempDir(), Insecure: true})
	ctx := context.Background()
	cc, err := agenttest.Dial(srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	var mu sync.Mutex
	var ends []time.Duration
	b.SetBytes(int64(len(data)) * concurrent)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range concurrent {
			wg.Go(func() {
				u := agenttest.UploadSpec{CaptureID: fmt.Sprintf("b%d-%d", i, j), AgentID: fmt.Sprintf("a%d", j), Data: data, SHA256: sum}
				res, err := agenttest.Upload(ctx, cc, u)
				if err != nil || !res.Committed {
					b.Errorf("upload: %v %+v", err, res)
					return
				}
				mu.Lock()
				ends = append(ends, res.EndToCommit)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(ends)
	if len(ends) > 0 {
		b.ReportMetric(float64(ends[len(ends)/2].Microseconds())/1000, "p50-commit-ms")
		b.ReportMetric(float64(ends[len(ends)*99/100].Microseconds())/1000, "p99-commit-ms")
		b.ReportMetric(float64(len(ends))/elapsed.Seconds(), "captures/s")
	}
	b.ReportMetric(float64(len(data))/(1<<20), "MiB/capture")
}

// BenchmarkAgents holds 2,000 agents connected with 1 s heartbeats for 5 s
// (agents and collector in one process, one connection per 100 agents) and
// reports the heap in use and the CPU the process used per second of that.
func BenchmarkAgents(b *testing.B) {
	const agents, perConn, hold = 2000, 100, 5 * time.Second
	srv := runServer(b, Config{Listen: "127.0.0.1:0", HTTP: "-", DataDir: b.TempDir(), Insecure: true, HeartbeatInterval: time.Second})
	ctx := context.Background()
	for range b.N {
		actx, acancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var conns []*grpc.ClientConn
		for i := range agents {
			if i%perConn == 0 {
				cc, err := agenttest.Dial(srv.Addr())
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, cc)
			}
			a := &agenttest.Agent{ID: fmt.Sprintf("sim-%04d", i), Labels: map[string]string{"pool": fmt.Sprint(i % 10)}}
			reg := a.Registered()
			cc := conns[len(conns)-1]
			wg.Go(func() { _ = a.Run(actx, cc) })
			<-reg
		}
		runtime.GC()
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		time.Sleep(hold)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if n := len(srv.reg.Connections(selector.Selector{})); n != agents {
			b.Errorf("%d agents connected, want %d", n, agents)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(cpu.Seconds()/hold.Seconds()*100, "cpu-%")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		acancel()
		wg.Wait()
		for _, cc := range conns {
			cc.Close()
		}
	}
}
