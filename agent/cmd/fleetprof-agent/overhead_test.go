package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/uplink/uplinktest"
)

// BenchmarkIdleAgent measures an idle agent daemon (registered, attached,
// heartbeating every second, polling the server's health): CPU as a
// percentage of one core, and resident memory. Run with
//
//	go test -run '^$' -bench IdleAgent -benchtime 1x ./agent/cmd/fleetprof-agent
//
// The goal is below 0.5 % of a core and 40 MB RSS.
func BenchmarkIdleAgent(b *testing.B) {
	if binDir == "" {
		b.Skip("binaries not built")
	}
	fc := uplinktest.Start(b, uplinktest.Options{HeartbeatMS: 1000})
	a := start(b, "fleetprof-agent", "--collector", fc.Addr, "--insecure", "--http", "127.0.0.1:0",
		"--work-dir", b.TempDir(), "--attach", startSim(b))
	if !fc.Wait(30*time.Second, func() bool { return len(fc.Registers()) > 0 }) {
		b.Fatal("the agent never registered")
	}
	time.Sleep(2 * time.Second) // settle after start-up
	const window = 10 * time.Second
	for range b.N {
		t0, err := cpuTicks(a.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		time.Sleep(window)
		t1, _ := cpuTicks(a.cmd.Process.Pid)
		el := time.Since(start)
		// Linux reports CPU time in clock ticks of 10 ms (USER_HZ = 100).
		cpu := float64(t1-t0) * 10 * float64(time.Millisecond) / float64(el) * 100
		rss, err := rssBytes(a.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(cpu, "cpu%")
		b.ReportMetric(float64(rss)/(1<<20), "rss_MB")
		if cpu > 0.5 || rss > 40<<20 {
			b.Errorf("idle agent: %.3f %% of a core, %.1f MB RSS; want < 0.5 %% and < 40 MB", cpu, float64(rss)/(1<<20))
		}
	}
	if fc.Heartbeats() < 5 {
		b.Errorf("only %d heartbeats while idle", fc.Heartbeats())
	}
}

// cpuTicks returns utime+stime of pid in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Fields after the command: state is f[0]; utime and stime are fields 14 and 15 of stat.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return u + st, nil
}

// rssBytes returns VmRSS of pid.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
